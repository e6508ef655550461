"""Helpers shared by the command modules: settings with clean errors, and the running pipeline."""

from __future__ import annotations

import os
from typing import Any, TypeVar

import click

from services.common.runinfo import read_run_info
from services.common.settings import ENV_PREFIX, CommonSettings, ConfigError, load

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
    overrides: dict[str, Any] = {"kafka_bootstrap_servers": info.bootstrap}
    if "***" not in info.sink_url:
        overrides["sink_url"] = info.sink_url
    elif not os.environ.get(f"{ENV_PREFIX}SINK_URL"):
        raise click.ClickException(
            f"the pipeline running from this directory stores in {info.sink_url}; set NEWSFLOW_SINK_URL to "
            "that URL (run.json does not record its password)")
    return overrides
