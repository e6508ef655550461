"""The ``newsflow`` command imports a sub-command's module only when that sub-command runs (issue 20).

The table of sub-commands (``services.cli.COMMANDS``) names each command's module by a string:
every entry must resolve to a click command of that name, and ``newsflow --help`` must still list
them all. Each service's start path (``python -m services.cli NAME``, as ``newsflow up`` and the
containers start it) and the ``up`` supervisor import only what they use: not the other stages'
heavy libraries.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from services.cli import COMMANDS, load, main
from services.up import SERVICES, command

REPO = Path(__file__).resolve().parents[1]

HEAVY = ("trafilatura", "scipy", "numpy", "fastapi", "uvicorn", "feedparser")
STAGES = ("services.fetcher", "services.extractor", "services.stories", "services.sink")


def test_every_entry_resolves_to_a_command_of_its_name() -> None:
    for name, entry in COMMANDS.items():
        loaded = load(entry)
        assert isinstance(loaded, click.Command), entry
        assert loaded.name == name, f"{entry} is the command {loaded.name!r}, listed as {name!r}"


def test_the_group_lists_the_table_and_finds_each_command() -> None:
    ctx = click.Context(main)
    assert main.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        found = main.get_command(ctx, name)
        assert found is not None and found.name == name
    assert main.get_command(ctx, "no-such-command") is None


def test_help_lists_every_command_with_its_short_help() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:", 1)[1].splitlines()
    for name in COMMANDS:
        line = next((line for line in listed if line.split()[:1] == [name]), None)
        assert line is not None, f"{name} missing from --help"
        assert len(line.split()) > 1, f"{name} has no short help"


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code == 2 and "No such command" in result.output


def heavy_imports(name: str | None) -> dict[str, list[str]]:
    """The heavy libraries and the stage packages a fresh interpreter holds once the ``newsflow``
    group has resolved sub-command ``name`` (as ``python -m services.cli NAME`` does before running it);
    ``None``: once it has imported the command line's main module only."""
    resolve = f"main([{name!r}, '--help'], standalone_mode=False)\n" if name else ""
    code = (
        "import json, sys\n"
        "import services.cli.__main__\n"
        "from services.cli import main\n"
        f"{resolve}"
        f"print(json.dumps({{'heavy': sorted(m for m in {HEAVY!r} if m in sys.modules),"
        f" 'stages': sorted(s for s in {STAGES!r} if s in sys.modules)}}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    result: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize(("name", "needs", "stage"), [
    ("fetcher", {"feedparser"}, "services.fetcher"),
    ("extractor", {"trafilatura", "scipy", "numpy"}, "services.extractor"),
    ("stories-worker", {"numpy"}, "services.stories"),
    ("sink", {"fastapi", "uvicorn"}, "services.sink"),
])
def test_a_service_imports_its_own_stage_only(name: str, needs: set[str], stage: str) -> None:
    found = heavy_imports(name)
    assert set(found["heavy"]) <= needs, f"newsflow {name} imports {sorted(set(found['heavy']) - needs)}"
    assert found["stages"] == [stage]


def test_the_up_supervisor_imports_no_heavy_library() -> None:
    """``newsflow up`` reads the stages' settings; the stages themselves run in their own processes."""
    assert heavy_imports("up")["heavy"] == []


def test_the_main_module_alone_imports_no_stage() -> None:
    """What a service's multiprocessing child may import again of its parent's main module (the
    extractor's workers: ``python -m services.cli`` runs ``services.cli.__main__``): no stage, no heavy
    library (each extractor worker used to import the whole command line again: aiohttp, psycopg,
    fastapi, feedparser, ...)."""
    assert heavy_imports(None) == {"heavy": [], "stages": []}


def test_up_starts_each_service_through_its_lazy_sub_command() -> None:
    for service in SERVICES:
        argv = command(service)
        assert argv[:3] == [sys.executable, "-m", "services.cli"]
        assert argv[3] in COMMANDS and argv[3].startswith(service)
