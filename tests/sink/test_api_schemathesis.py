"""The API against its own OpenAPI schema (schemathesis): whatever the schema allows, and the
edge cases schemathesis derives from it, get no 5xx, on both backends.

The requests go to a real server (``ApiServer``: uvicorn with the request guards) over a small
store; the number of examples per operation is bounded so that the run takes seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from services.sink.api import ApiServer, open_api_store
from services.sink.backends import open_store
from services.sink.settings import SinkSettings
from tests.sink.test_store import make, store_url  # noqa: F401 - store_url is the per-backend fixture

EXAMPLES_PER_OPERATION = 40


@pytest.fixture
def api_schema(store_url: str) -> Iterator[schemathesis.BaseSchema]:  # noqa: F811
    store = open_store(store_url)
    store.write_batch([make("a1"), make("a2", "Kharkiv again, said NATO.", published_at=datetime(2024, 6, 6, tzinfo=UTC)),
                       make("b1", "The Larder Lake council bought a taxicab.", story_id="b1")])
    store.close()
    cfg = SinkSettings(sink_url=store_url, api_port=0, api_rate_per_second=10_000, api_rate_burst=10_000)  # type: ignore[arg-type]
    server = ApiServer(open_api_store(cfg), cfg).start()
    try:
        yield schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    finally:
        server.stop()


def test_no_server_errors(api_schema: schemathesis.BaseSchema) -> None:
    """Valid inputs (positive) and inputs the schema forbids (negative), each operation."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 4
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def no_5xx(case: schemathesis.Case) -> None:
                response = case.call(timeout=30)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} {case.query}: "
                                    f"{response.status_code} {response.text[:200]}")

            no_5xx()
    assert not failures, "\n".join(failures[:20])
