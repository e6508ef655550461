"""Operations commands: ``newsflow topics ...`` and ``newsflow config show``."""

from __future__ import annotations

from typing import Any

import click

from services.clikit import running_overrides, settings_or_exit
from services.common.config import (
    CommonSettings,
    ExtractorSettings,
    FetcherSettings,
    SinkSettings,
    masked,
)


@click.group()
def topics() -> None:
    """Kafka topics."""


@topics.command("ensure")
def topics_ensure() -> None:
    """Create the missing topics with their partitions and retention."""
    from services.common.kafka import ensure_topics

    created = ensure_topics(settings_or_exit(CommonSettings, **_broker_override()))
    click.echo(f"created: {', '.join(created)}" if created else "all topics exist")


@topics.command("describe")
def topics_describe() -> None:
    """Partitions of each newsflow topic."""
    from services.common.kafka import make_admin

    settings = settings_or_exit(CommonSettings, **_broker_override())
    admin = make_admin(settings)
    try:
        for topic in admin.describe_topics([settings.topic_pages, settings.topic_articles, settings.topic_dlq]):
            click.echo(f"{topic['topic']}: {len(topic['partitions'])} partition(s)")
    finally:
        admin.close()


def _broker_override() -> dict[str, Any]:
    overrides = running_overrides()
    return {"kafka_bootstrap_servers": overrides["kafka_bootstrap_servers"]} if overrides else {}


@click.group()
def config() -> None:
    """Configuration."""


@config.command("show")
@click.argument("service", type=click.Choice(["fetcher", "extractor", "sink"]))
def config_show(service: str) -> None:
    """The effective settings of SERVICE, secrets masked."""
    cls = {"fetcher": FetcherSettings, "extractor": ExtractorSettings, "sink": SinkSettings}[service]
    for name, value in masked(settings_or_exit(cls)).items():
        click.echo(f"{name}={value}")
