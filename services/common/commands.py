"""Helpers shared by the command modules: settings with clean errors, and the running pipeline."""

from __future__ import annotations

from typing import Any, TypeVar

import click

from services.common.runinfo import read_run_info
from services.common.settings import CommonSettings, ConfigError, load

S = TypeVar("S", bound=CommonSettings)


def settings_or_exit(cls: type[S], **overrides: Any) -> S:
    """Settings from the environment, or a clean exit naming the bad variable."""
    try:
        return load(cls, **overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def running_overrides() -> dict[str, Any]:
    """Broker and storage of the pipeline that ``newsflow up`` runs from this data directory, if any."""
    info = read_run_info(settings_or_exit(CommonSettings).data_dir)
    if info is None:
        return {}
    return {"kafka_bootstrap_servers": info.bootstrap, "sink_url": info.sink_url}
