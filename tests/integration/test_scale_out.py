"""Scale-out (issue 14): N replicas of every stage store what one process of each stores.

On the generated multi-outlet site of :mod:`tests.scale.site` (6 outlets, 20 events, 220
articles, about 10% syndicated copies), once with a SQLite sink and once with a PostgreSQL one:

* run A: ``newsflow up --feeds FILE --once``, one process of each service;
* run B: ``newsflow up --feeds FILE --scale fetcher=2 --scale extractor=3 --scale sink=2
  --scale stories=2``, the news arriving in four waves, and during the run kill -9 of
  fetcher-1 and extractor-2 (first wave), of sink-1 (second wave) and of the story member
  that is active, the one consuming (third wave, while the extractors still produce). ``up``
  restarts them, and placing goes on without an operator: the group protocol gives the single
  input partition to the standby, or to the restarted member when it rejoins within the same
  rebalance (which one is not the test's business; the output says which);

then both stores must hold every article of the site exactly once (none lost, none extra, no
second revision), and their story ids and duplicate marks must partition the articles the same
way (compared as set partitions: a story id is a hash of the story's first article, which
depends on arrival order; the groups must not).

Also: ``newsflow up --demo --once --scale extractor=3`` stores the two seed articles (CTV and
CBC, the same event 4.7 days apart) under one story id.

Deadlines are generous (this machine has two cores shared with everything else); how fast a
takeover is belongs in a benchmark, not here.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from services.sink.backends import open_store
from services.sink.store import Filters
from services.up import COMMANDS, SERVICES, instances
from tests.conftest import wait_for
from tests.hostile.pipeline import FAST_POLLING, metric_value, service_of
from tests.scale.site import ScaleSite, Site, generate
from tests.sink.test_store import postgres_schema

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 14
STORIES = "stories" in SERVICES  # the story stage (one active member, standbys) between extractor and sink
SCALE = {"fetcher": 2, "extractor": 3, "sink": 2, **({"stories": 2} if STORIES else {})}
WAVES = 4
DEADLINE = 900.0  # seconds for everything to be stored; nothing here measures speed


@pytest.fixture(scope="module")
def site() -> Site:
    return generate(SEED)


@pytest.fixture(params=["sqlite", "postgresql"])
def sink_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Sink URLs of two empty stores (runs A and B) on one backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
        return
    with postgres_schema() as a, postgres_schema() as b:
        yield a, b


def pipeline_env(data_dir: Path, sink_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update(FAST_POLLING)
    env.update({
        "NEWSFLOW_DATA_DIR": str(data_dir),
        "NEWSFLOW_SINK_URL": sink_url,
        "NEWSFLOW_WORKERS": "1",  # two cores for a dozen processes
        "NEWSFLOW_BATCH_MAX_RECORDS": "5",  # small batches: kills land between and inside them
        "NEWSFLOW_ONCE_TIMEOUT_SECONDS": str(int(DEADLINE)),
        "NEWSFLOW_LOG_FORMAT": "text",
    })
    return env


def tail(data_dir: Path, chars: int = 2500) -> str:
    parts = []
    for log in [data_dir / "up.out", *sorted((data_dir / "logs").glob("*.log"))]:
        if log.exists():
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
    return "\n".join(parts)


# ---- reading a store ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Stored:
    """What a run stored, by URL path (the two runs serve the site on different ports)."""

    paths: list[str]  # a list: an article stored twice would show twice
    story: dict[str, str]  # path -> story id
    duplicate_of: dict[str, str | None]  # path -> path of the copy it duplicates
    revisions: dict[str, int]

    def stories(self) -> set[frozenset[str]]:
        return partition(self.story)

    def copies(self) -> set[frozenset[str]]:
        """Each first copy with the articles marked as its duplicates."""
        return partition({path: dup or path for path, dup in self.duplicate_of.items()})

    def figures(self) -> str:
        return (f"{len(self.paths)} articles, {len(set(self.story.values()))} stories, "
                f"{sum(d is not None for d in self.duplicate_of.values())} duplicates, "
                f"max revision {max(self.revisions.values(), default=0)}")


def partition(labels: Mapping[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for item, label in labels.items():
        groups.setdefault(label, set()).add(item)
    return {frozenset(g) for g in groups.values()}


def read_store(sink_url: str, base_url: str) -> Stored:
    store = open_store(sink_url)
    try:
        articles = list(store.iter_articles(Filters(limit=-1)))
        path_of = {a.id: a.url.removeprefix(base_url) for a in articles}
        return Stored(
            paths=[path_of[a.id] for a in articles],
            story={path_of[a.id]: str(a.story_id) for a in articles},
            duplicate_of={path_of[a.id]: path_of.get(a.duplicate_of, a.duplicate_of) if a.duplicate_of else None
                          for a in articles},
            revisions={path_of[a.id]: len(store.history(a.id)) for a in articles},
        )
    finally:
        store.close()


def stored_count(sink_url: str) -> int:
    """Rows in the store now (0 before the sink made its tables), without opening it for writing."""
    try:
        if sink_url.startswith("sqlite:///"):
            conn = sqlite3.connect(f"file:{sink_url.removeprefix('sqlite:///')}?mode=ro", uri=True, timeout=10)
            try:
                return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
            finally:
                conn.close()
        with psycopg.connect(sink_url, connect_timeout=5) as pg:
            row = pg.execute("SELECT count(*) FROM articles").fetchone()
            return int(row[0]) if row else 0
    except (sqlite3.Error, psycopg.Error):
        return 0


def describe(name: str, got: set[frozenset[str]], want: set[frozenset[str]], site: Site) -> str:
    """The groups of ``got`` that ``want`` does not have (and back), with each path's event."""
    def show(groups: set[frozenset[str]]) -> str:
        return "; ".join(sorted(
            f"{len(g)}: " + ", ".join(sorted(f"e{site.pages[p].event.number}" if p in site.pages else p for p in g))
            for g in groups))
    return f"{name}: only in the first [{show(got - want)}]; only in the second [{show(want - got)}]"


def check_complete(stored: Stored, site: Site, run: str) -> None:
    assert len(stored.paths) == len(set(stored.paths)), f"run {run}: an article is stored twice"
    assert set(stored.paths) - set(site.pages) == set(), f"run {run}: stored articles the site does not have"
    lost = set(site.pages) - set(stored.paths)
    assert lost == set(), f"run {run}: {len(lost)} of {len(site.pages)} articles lost"
    doubled = {p: n for p, n in stored.revisions.items() if n != 1}
    assert doubled == {}, f"run {run}: redelivery made new revisions: {doubled}"


# ---- run A: one process of each service, --once ------------------------------------------------

def run_once(site: Site, data_dir: Path, sink_url: str) -> tuple[Stored, float]:
    data_dir.mkdir(parents=True)
    with ScaleSite(site) as served:
        feeds = data_dir / "feeds.txt"
        feeds.write_text("\n".join(served.feed_urls()) + "\n")
        started = time.monotonic()
        with (data_dir / "up.out").open("wb") as out:
            code = subprocess.run([sys.executable, "-m", "services.cli", "up", "--feeds", str(feeds), "--once"],
                                  env=pipeline_env(data_dir, sink_url), stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=DEADLINE + 120).returncode
        elapsed = time.monotonic() - started
        assert code == 0, f"run A: newsflow up --once exited with {code}\n{tail(data_dir)}"
        return read_store(sink_url, served.base_url), elapsed


# ---- run B: N replicas of each, replicas killed --------------------------------------------------

class ScaledRun:
    """``newsflow up --feeds FILE --scale ...`` as a child process in its own session."""

    def __init__(self, data_dir: Path, feeds: list[str], env: dict[str, str], scale: Mapping[str, int]) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.feeds_file = data_dir / "feeds.txt"
        self.feeds_file.write_text("\n".join(feeds) + "\n")
        self.env = env
        self.scale = dict(scale)
        self.names = instances(self.scale)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> ScaledRun:
        args = [*extra, *(f"--scale={service}={n}" for service, n in self.scale.items())]
        with (self.data_dir / "up.out").open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "up", "--feeds", str(self.feeds_file), *args],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for("every replica started",
                 lambda: self.alive() and self.run_info().get("pids", {}).keys() >= self.names.keys(), 120)
        return self

    def alive(self) -> bool:
        """True while ``up`` runs; an AssertionError with the logs once it has exited."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"newsflow up exited with {self.proc.returncode}\n{tail(self.data_dir)}")
        return True

    def run_info(self) -> dict[str, dict[str, int]]:
        try:
            return dict(json.loads((self.data_dir / "run.json").read_text()))
        except (OSError, ValueError):
            return {}

    def pid(self, name: str) -> int | None:
        """The live pid of process ``name`` (``extractor-2``), as ``up`` recorded it; None if it is not running."""
        pid = self.run_info().get("pids", {}).get(name)
        if pid is None:
            return None
        service = self.names[name]
        return pid if service_of(pid) in (COMMANDS.get(service, service), service) else None

    def kill(self, name: str) -> int:
        pid = self.pid(name)
        assert pid is not None, f"{name} is not running"
        os.kill(pid, signal.SIGKILL)
        return pid

    def restarted(self, name: str, old: int) -> bool:
        self.alive()
        pid = self.pid(name)
        return pid is not None and pid != old

    def metrics(self, name: str) -> str:
        port = self.run_info().get("metrics_ports", {})[name]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return ""  # restarting

    def metric(self, name: str, metric: str, labels: Mapping[str, str] | None = None) -> float:
        return metric_value(self.metrics(name), metric, labels)

    def consumed(self, name: str) -> float:
        return metric_value(self.metrics(name), "newsflow_messages_consumed_total", {"stage": self.names[name]})

    def stop(self, timeout: float = 120) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()


def active_story_member(run: ScaledRun) -> str:
    """The story member that consumes (one active member owns the single input partition)."""
    members = [n for n, service in run.names.items() if service == "stories"]
    found: list[str] = []

    def one_consuming() -> bool:
        found[:] = [m for m in members if run.consumed(m) > 0]
        return len(found) == 1
    wait_for("one story member consuming", one_consuming, 300)
    return found[0]


def kill_and_await_restart(run: ScaledRun, name: str, killed: dict[str, int]) -> None:
    print(f"kill -9 {name} with {stored_count(run.env['NEWSFLOW_SINK_URL'])} articles stored")
    killed[name] = run.kill(name)
    wait_for(f"{name} restarted by up", lambda: run.restarted(name, killed[name]), 180)


def run_scaled(site: Site, data_dir: Path, sink_url: str) -> tuple[Stored, float, dict[str, str]]:
    notes: dict[str, str] = {}
    with ScaleSite(site, staged=True) as served:
        run = ScaledRun(data_dir, served.feed_urls(), pipeline_env(data_dir, sink_url), SCALE)
        wave = -(-len(site.pages) // WAVES)
        started = time.monotonic()
        served.release(wave)
        run.start()
        killed: dict[str, int] = {}
        try:
            wait_for("the first articles stored", lambda: run.alive() and stored_count(sink_url) >= 10, DEADLINE)
            for name in ("fetcher-1", "extractor-2"):
                kill_and_await_restart(run, name, killed)
            served.release(wave)
            wait_for("a second wave stored", lambda: run.alive() and stored_count(sink_url) >= wave + 10, DEADLINE)
            kill_and_await_restart(run, "sink-1", killed)
            served.release(wave)
            if STORIES:  # killed while the third wave flows through it
                active = active_story_member(run)
                wait_for(f"{active} placing the third wave",
                         lambda: run.alive() and run.consumed(active) >= 2 * wave + 5, DEADLINE)
                before = {m: run.consumed(m) for m, s in run.names.items() if s == "stories"}
                kill_and_await_restart(run, active, killed)
                standby = next(m for m in before if m != active)
                wait_for("a story member consuming again after the kill",
                         lambda: run.alive() and (run.consumed(standby) > before[standby] or run.consumed(active) > 0),
                         DEADLINE)
            served.release()
            wait_for(f"all {len(site.pages)} articles stored",
                     lambda: run.alive() and stored_count(sink_url) >= len(site.pages), DEADLINE)
            elapsed = time.monotonic() - started
            settle(run, sink_url, served.base_url)
            if STORIES:
                notes["stories"] = (f"story stage: killed the active member {active} after it placed "
                                    f"{before[active]:.0f}; then {standby} (the standby) placed "
                                    f"{run.consumed(standby):.0f}, the restarted {active} {run.consumed(active):.0f}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nstored {stored_count(sink_url)}; killed {killed}\n{tail(data_dir)}") from None
        finally:
            code = run.stop()
        assert code == 0, f"run B: newsflow up exited with {code} on SIGTERM\n{tail(data_dir)}"
        notes["killed"] = ", ".join(sorted(killed))
        return read_store(sink_url, served.base_url), elapsed, notes


def settle(run: ScaledRun, sink_url: str, base_url: str, quiet: float = 15.0) -> None:
    """Wait until the stored rows (ids, story ids, duplicate marks) stop changing for ``quiet`` seconds:
    a late correction from the story stage would still be on its way otherwise."""
    last: tuple[object, ...] = ()
    since = time.monotonic()

    def quiet_now() -> bool:
        nonlocal last, since
        run.alive()
        now = read_store(sink_url, base_url)
        key = (sorted(now.story.items()), sorted((p, d or "") for p, d in now.duplicate_of.items()))
        if key != last:
            last, since = key, time.monotonic()
        return time.monotonic() - since >= quiet
    wait_for("the stored rows to stop changing", quiet_now, 300)


# ---- the tests ------------------------------------------------------------------------------

def test_scaled_run_stores_what_one_process_of_each_stores(
    site: Site, sink_urls: tuple[str, str], tmp_path: Path
) -> None:
    url_a, url_b = sink_urls
    one, one_s = run_once(site, tmp_path / "a", url_a)
    check_complete(one, site, "A")
    many, many_s, notes = run_scaled(site, tmp_path / "b", url_b)
    print(f"\nrun A (one of each, --once): {one.figures()} in {one_s:.0f}s"
          f"\nrun B ({' '.join(f'{s}={n}' for s, n in SCALE.items())}; killed {notes['killed']}): "
          f"{many.figures()} in {many_s:.0f}s"
          + (f"\n{notes['stories']}" if "stories" in notes else "")
          + f"\nsite: {len(site.pages)} articles, {len(site.events)} events, {len(site.copies())} syndicated copies"
          f"\nrun A matches the site's events: {one.stories() == site.story_groups()}, its copies: "
          f"{one.copies() == site.duplicate_groups()}")
    check_complete(many, site, "B")
    assert many.stories() == one.stories(), describe("stories (B vs A)", many.stories(), one.stories(), site)
    assert many.copies() == one.copies(), describe("duplicates (B vs A)", many.copies(), one.copies(), site)


def test_demo_seeds_share_a_story_with_three_extractors(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update({"NEWSFLOW_DATA_DIR": str(data_dir), "NEWSFLOW_METRICS_BASE_PORT": "0", "NEWSFLOW_WORKERS": "1",
                "NEWSFLOW_API_ENABLED": "false"})
    with (data_dir / "up.out").open("wb") as out:
        code = subprocess.run([sys.executable, "-m", "services.cli", "up", "--demo", "--once", "--scale", "extractor=3"],
                              env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              timeout=600, cwd=tmp_path).returncode
    assert code == 0, tail(data_dir)
    assert "all 8 items stored" in (data_dir / "up.out").read_text()
    store = open_store(f"sqlite:///{data_dir / 'newsflow.db'}")
    try:
        articles = list(store.iter_articles(Filters(limit=-1)))
    finally:
        store.close()
    ctv = [a for a in articles if "/ctvnews/" in a.url]
    cbc = [a for a in articles if "/cbc/" in a.url]
    assert len(ctv) == 1 and len(cbc) == 1, [a.url for a in articles]
    assert ctv[0].story_id == cbc[0].story_id, (
        f"the seeds are one event but stored as two stories: CTV {ctv[0].story_id} "
        f"({ctv[0].published_at}), CBC {cbc[0].story_id} ({cbc[0].published_at})")


@pytest.mark.integration
@pytest.mark.slow
def test_once_with_the_lease_holding_fetcher_killed_stores_everything(site: Site, tmp_path: Path) -> None:
    """``up --once --scale fetcher=2``: kill -9 the fetcher replica that holds the feed leases in
    the middle of its pass (pages served slowly, so the pass takes a while). ``--once`` must still
    store every article, not report the pass done with the dead replica's feeds unpolled."""
    data_dir, sink_url = tmp_path / "data", f"sqlite:///{tmp_path / 'news.db'}"
    with ScaleSite(site, page_delay=0.5) as served:
        env = pipeline_env(data_dir, sink_url) | {"NEWSFLOW_PER_HOST_CONCURRENCY": "2"}
        run = ScaledRun(data_dir, served.feed_urls(), env, {"fetcher": 2}).start("--once")
        holder: list[str] = []

        def leases_claimed() -> bool:
            holder[:] = [n for n in ("fetcher-1", "fetcher-2")
                         if run.metric(n, "newsflow_fetcher_leases_total", {"event": "claimed"}) > 0]
            return bool(holder)
        try:
            wait_for("a fetcher replica claiming the feeds", leases_claimed, 300)
            time.sleep(2)  # into its pass
            run.kill(holder[0])
            assert run.proc is not None
            code = run.proc.wait(DEADLINE)
        finally:
            run.stop()
        stored = stored_count(sink_url)
        assert (code, stored) == (0, len(site.pages)), (
            f"up --once exited {code} with {stored} of {len(site.pages)} articles stored after kill -9 of "
            f"{holder[0]} (page requests served: {sum(served.page_hits.values())})\n{tail(data_dir)}")
