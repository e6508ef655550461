"""Operations commands: ``newsflow replay``, ``dlq``, ``status``, ``topics`` and ``config``.

The commands parse options and print; the work is in the sibling modules
(:mod:`.replay`, :mod:`.dlq`, :mod:`.status`, :mod:`.offsets`).
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import datetime
from typing import Any

import click
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError
from rich.console import Console
from rich.live import Live
from rich.table import Table

from services.common.commands import running_overrides, settings_or_exit
from services.common.kafka import ensure_topics, make_admin, make_consumer, topic_specs, unreachable_broker
from services.common.runinfo import read_run_info
from services.common.settings import CommonSettings, ConsumerSettings, masked
from services.extractor.settings import ExtractorSettings
from services.fetcher.settings import FetcherSettings
from services.ops import dlq as dl
from services.ops import replay as rp
from services.ops.replay import parse_time
from services.ops.status import collect, render
from services.sink.settings import SinkSettings
from services.stories.settings import StoriesSettings


def _broker_override() -> dict[str, Any]:
    overrides = running_overrides()
    return {"kafka_bootstrap_servers": overrides["kafka_bootstrap_servers"]} if overrides else {}


NOT_RUNNING_EXIT_CODE = 3
"""``newsflow status`` (and the other Kafka commands) when no broker answers: nothing is running."""


def _quiet_kafka() -> None:
    """kafka-python logs connection chatter at WARNING; the commands report problems themselves."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


def _broker_or_exit(settings: CommonSettings) -> None:
    """Quiet kafka-python, then make sure a broker answers, within seconds; else one line and exit
    :data:`NOT_RUNNING_EXIT_CODE` saying what is missing and what to run."""
    _quiet_kafka()
    why = unreachable_broker(settings)
    if why is None:
        return
    running = read_run_info(settings.data_dir) is not None
    hint = ("the pipeline recorded in run.json is not answering (see its logs)" if running else
            f"nothing runs from {settings.data_dir}: start the pipeline with `newsflow up --feeds FILE` "
            "(or --demo), or point NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS at your Kafka")
    click.echo(f"newsflow: no Kafka broker answers at {settings.kafka_bootstrap_servers} ({why}); {hint}", err=True)
    sys.exit(NOT_RUNNING_EXIT_CODE)


def _time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


# --- topics -------------------------------------------------------------------------

@click.group()
def topics() -> None:
    """Kafka topics."""


@topics.command("ensure")
def topics_ensure() -> None:
    """Create the missing topics with their partitions, retention and cleanup policy."""
    settings = settings_or_exit(CommonSettings, **_broker_override())
    _broker_or_exit(settings)
    created = ensure_topics(settings)
    click.echo(f"created: {', '.join(created)}" if created else "all topics exist")
    for name, spec in topic_specs(settings).items():
        cfg = spec["configs"]
        click.echo(f"  {name}: {spec['num_partitions']} partition(s), retention.ms={cfg['retention.ms']}, "
                   f"cleanup.policy={cfg['cleanup.policy']}")


@topics.command("describe")
def topics_describe() -> None:
    """Partitions and configs of each newsflow topic (configs as the broker reports them)."""
    settings = settings_or_exit(CommonSettings, **_broker_override())
    _broker_or_exit(settings)
    specs = topic_specs(settings)
    admin = make_admin(settings)
    try:
        existing = set(admin.list_topics())
        for name, spec in specs.items():
            if name not in existing:
                click.echo(f"{name}: missing (run `newsflow topics ensure`)")
                continue
            (desc,) = admin.describe_topics([name])
            click.echo(f"{name}: {len(desc['partitions'])} partition(s)")
            try:
                found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
                configs = _topic_configs(found, name)
            except (KafkaError, ValueError) as exc:
                configs, note = {}, f"broker did not return configs ({type(exc).__name__})"
            else:
                note = "" if configs else "broker returned no configs (the embedded broker does not report them)"
            for key in ("retention.ms", "cleanup.policy", "max.message.bytes"):
                shown = configs.get(key, "?")
                click.echo(f"  {key}: {shown} (configured {spec['configs'][key]})")
            if note:
                click.echo(f"  {note}")
    finally:
        admin.close()


def _topic_configs(found: Any, name: str) -> dict[str, str]:
    """The ``{key: value}`` configs of topic ``name`` from ``describe_configs`` (shape varies by version)."""
    if isinstance(found, dict):
        raw = found.get("topic", {}).get(name, {})
        if isinstance(raw, dict):
            return {str(k): str(v.get("value") if isinstance(v, dict) else v) for k, v in raw.items()}
    return {}


# --- config -------------------------------------------------------------------------

@click.group()
def config() -> None:
    """Configuration."""


@config.command("show")
@click.argument("service", type=click.Choice(["fetcher", "extractor", "stories", "sink"]))
def config_show(service: str) -> None:
    """The effective settings of SERVICE, secrets masked: those of the pipeline `newsflow up` runs
    from this directory when there is one (its broker, its storage), else the environment's."""
    classes: dict[str, type[CommonSettings]] = {
        "fetcher": FetcherSettings, "extractor": ExtractorSettings, "stories": StoriesSettings,
        "sink": SinkSettings,
    }
    overrides = running_overrides() if service == "sink" else _broker_override()
    for name, value in masked(settings_or_exit(classes[service], **overrides)).items():
        click.echo(f"{name}={value}")


# --- replay -------------------------------------------------------------------------

def _stage_settings(stage: str) -> ConsumerSettings:
    """The stage's own settings (its group, batch size...), on the running pipeline's broker."""
    if stage == "extractor":
        return settings_or_exit(ExtractorSettings, **_broker_override())
    if stage == "stories":
        return settings_or_exit(StoriesSettings, **_broker_override())
    return settings_or_exit(SinkSettings, **running_overrides())


def stage_input(settings: ConsumerSettings, stage: str) -> str:
    """The topic a stage consumes (what its replay reprocesses)."""
    return {"extractor": settings.topic_pages, "stories": settings.topic_extracted}.get(stage, settings.topic_articles)


@click.command()
@click.option("--stage", "stage_name", type=click.Choice(["extractor", "stories", "sink"]), required=True,
              help="extractor: re-extract newsflow.pages; stories: re-cluster newsflow.extracted (from an "
              "empty story index: use --from-beginning); sink: re-store newsflow.articles.")
@click.option("--from-beginning", is_flag=True, help="From the oldest record the broker holds.")
@click.option("--since", callback=_time, help="From the first record at or after this ISO time (UTC if no zone).")
@click.option("--offsets", "offsets_text", help="From these offsets: PARTITION:OFFSET,... (only those partitions).")
@click.option("--until", callback=_time, help="Stop before the first record at or after this ISO time.")
@click.option("--dry-run", is_flag=True, help="Print per partition start/end offsets and counts; change nothing.")
@click.option("--reset-live-group", is_flag=True,
              help="Reset the live group's offsets instead of using a fresh group (the stage must be stopped).")
def replay(stage_name: str, from_beginning: bool, since: datetime | None, offsets_text: str | None,
           until: datetime | None, dry_run: bool, reset_live_group: bool) -> None:
    """Reprocess a stage's input topic from a point, in a fresh consumer group by default."""
    try:
        start = rp.StartPoint(from_beginning, since,
                              rp.parse_offsets(offsets_text) if offsets_text is not None else None)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if reset_live_group and until is not None:
        raise click.UsageError("--until cannot be combined with --reset-live-group: the live group would "
                               "stop at --until and reprocess the rest again when the service restarts")
    settings = _stage_settings(stage_name)
    _broker_or_exit(settings)
    topic = stage_input(settings, stage_name)
    probe = make_consumer(settings)
    try:
        plan = rp.plan_replay(probe, stage=stage_name, topic=topic,  # type: ignore[arg-type]
                              live_group=settings.group_id, start=start, until=until,
                              reset_live_group=reset_live_group)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        probe.close()
    for line in plan.describe():
        click.echo(line)
    if dry_run:
        return
    progress = rp.RichProgress(f"replay {stage_name}") if sys.stderr.isatty() else rp.PlainProgress()
    try:
        result = rp.run_replay(plan, settings, progress=progress)
    except rp.ReplayRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"replayed {result.replayed} message(s) in {result.seconds:.1f}s into group {result.group}"
               + (f" ({result.outside_range} past --until skipped)" if result.outside_range else ""))
    if result.stopped_by_dlq_limit:
        raise click.ClickException("stopped by the dead-letter limit: see `newsflow dlq list`")


# --- dead letters ---------------------------------------------------------------------

@click.group()
def dlq() -> None:
    """Dead letters: list, show, re-drive."""


@dlq.command("list")
@click.option("--stage", type=click.Choice(["extractor", "sink"]))
@click.option("--error-class", help="Only this error class (e.g. MessageError).")
@click.option("--since", callback=_time, help="Only dead letters since this ISO time.")
def dlq_list(stage: str | None, error_class: str | None, since: datetime | None) -> None:
    """A table of dead letters: offset, when, stage, error, key, re-driven."""
    settings = settings_or_exit(CommonSettings, **_broker_override())
    _broker_or_exit(settings)
    letters = dl.dead_letters(dl.read_all(settings), dl.Filter(stage, error_class, since))
    table = Table(title=f"{settings.topic_dlq}: {len(letters)} dead letter(s)")
    for col in ("offset", "when", "stage", "error", "key", "redriven"):
        table.add_column(col, overflow="fold")
    for letter, done in letters:
        error = f"{letter.error_class}: {letter.header('error_message')}"
        table.add_row(letter.ref, letter.failed_at.strftime("%Y-%m-%d %H:%M:%S"), letter.stage,
                      error[:100], (letter.key or b"").decode("utf-8", "replace"), "yes" if done else "")
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@dlq.command("show")
@click.argument("ref")
@click.option("--full", is_flag=True, help="Print the whole value (default: the first 2000 characters).")
def dlq_show(ref: str, full: bool) -> None:
    """One dead letter: REF is OFFSET (partition 0) or PARTITION:OFFSET."""
    try:
        partition, offset = dl.parse_ref(ref)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    settings = settings_or_exit(CommonSettings, **_broker_override())
    _broker_or_exit(settings)
    found = [d for d in dl.read_all(settings) if (d.partition, d.offset) == (partition, offset)]
    if not found:
        raise click.ClickException(f"no record at {partition}:{offset} in {settings.topic_dlq}")
    letter = found[0]
    click.echo(f"dead letter {letter.ref} of {settings.topic_dlq}")
    for key, value in letter.headers:
        click.echo(f"  {key}: {value.decode('utf-8', 'replace')}")
    text = (letter.value or b"").decode("utf-8", "replace")
    click.echo(f"value ({len(letter.value or b'')} bytes):")
    click.echo(text if full or len(text) <= 2000 else text[:2000] + f"... ({len(text) - 2000} more characters, --full)")


@dlq.command("redrive")
@click.option("--stage", type=click.Choice(["extractor", "sink"]))
@click.option("--error-class", help="Only dead letters of this error class.")
@click.option("--dry-run", is_flag=True, help="List what would be re-driven; send nothing.")
def dlq_redrive(stage: str | None, error_class: str | None, dry_run: bool) -> None:
    """Send dead letters back to their original topic, once (a receipt in the DLQ prevents resends)."""
    settings = settings_or_exit(CommonSettings, **_broker_override())
    _broker_or_exit(settings)
    result = dl.redrive(settings, dl.Filter(stage, error_class), dry_run=dry_run)
    verb = "would re-drive" if dry_run else "re-drove"
    for letter in result.sent:
        click.echo(f"{verb} {letter.ref} ({letter.stage}, {letter.error_class}) -> {letter.original_topic()}")
    click.echo(f"{verb} {len(result.sent)} dead letter(s); {result.already} already re-driven"
               + (f"; {result.skipped_no_origin} without an original topic" if result.skipped_no_origin else ""))


# --- status -------------------------------------------------------------------------

@click.command()
@click.option("--watch", is_flag=True, help="Refresh every --interval seconds until Ctrl-C.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(min=0.5))
@click.option("--json", "as_json", is_flag=True, help="One JSON object (per refresh with --watch).")
def status(watch: bool, interval: float, as_json: bool) -> None:
    """Consumer lag per group and partition; up/ready of each service `newsflow up` runs.

    Exit codes: 0 everything up and ready, 1 something is not, 3 nothing is running (no broker).
    """
    settings = settings_or_exit(CommonSettings, **_broker_override())
    _broker_or_exit(settings)
    info = read_run_info(settings.data_dir)
    if as_json:
        while True:
            found = collect(settings, info)
            click.echo(found.to_json())
            if not watch:
                sys.exit(0 if found.healthy() else 1)
            time.sleep(interval)
    console = Console()
    if not watch:
        found = collect(settings, info)
        console.print(render(found))
        sys.exit(0 if found.healthy() else 1)
    try:
        with Live(render(collect(settings, info)), console=console, refresh_per_second=4) as live:
            while True:
                time.sleep(interval)
                live.update(render(collect(settings, read_run_info(settings.data_dir))))
    except KeyboardInterrupt:
        pass


__all__ = ["config", "dlq", "replay", "status", "topics"]
