"""``newsflow up --scale SERVICE=N``: names, ports and parsing (the run itself is in
tests/integration/test_pipeline.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from services.cli import main
from services.common.broker import free_port
from services.up import SERVICES, instances, parse_scale, pick_ports


def test_one_replica_keeps_the_service_name_several_are_numbered() -> None:
    names = instances({"extractor": 3, "sink": 2})
    assert [n for n, s in names.items() if s == "extractor"] == ["extractor-1", "extractor-2", "extractor-3"]
    assert [n for n, s in names.items() if s == "sink"] == ["sink-1", "sink-2"]
    assert names["fetcher"] == "fetcher"
    assert list(names.values()) == sorted(names.values(), key=SERVICES.index), "start order kept"


@pytest.mark.parametrize("bad", ["extractor", "extractor=0", "extractor=x", "broker=2", "sink=17"])
def test_bad_scale_values_are_refused_with_a_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match="--scale"):
        parse_scale([bad])
    result = CliRunner().invoke(main, ["up", "--demo", "--scale", bad])
    assert result.exit_code == 2 and "--scale" in result.output


def test_every_process_gets_its_own_metrics_port() -> None:
    base = free_port()
    ports = pick_ports("127.0.0.1", base, instances({"extractor": 3}))
    assert len(set(ports.values())) == len(ports)
    assert ports["fetcher"] == base and ports["extractor-1"] == base + 1, "first replicas keep the known ports"
