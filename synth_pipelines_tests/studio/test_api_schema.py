"""A property-based pass over the API's OpenAPI schema (schemathesis): no request it can build gets a 5xx."""

from __future__ import annotations

import hypothesis
import schemathesis
from hypothesis import HealthCheck, settings

from synth_pipelines_tests.studio.conftest import Server

# Bounded: a few examples per operation keep the pass to seconds; generation is capped by the server's limits.
EXAMPLES_PER_OPERATION = 8


def test_no_operation_answers_with_a_server_error(api_server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{api_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/generate", "/api/datasets/{dataset_id}/ask", "/api/upload"}
    failures: list[str] = []
    statuses: list[int] = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,  # the same examples every run
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=api_server.url, timeout=60)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        check()
    assert not failures, "\n".join(failures)
    assert len(statuses) >= 2 * len(operations) and any(200 <= s < 300 for s in statuses)
    assert api_server.process.poll() is None  # the server is still up
