"""No 500 is reachable from outside: schemathesis generates valid and invalid requests for every
contract operation and sends them over loopback to a served mock.

A small, seeded budget so it runs in CI on every push; `suites/fuzz/` runs the big campaigns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from wfcontracts.contract.loader import default_contract_path
from wfcontracts.mock.server import BackgroundServer, serve_in_background
from wfcontracts.mock.service import MockService

TOKEN = "no-server-errors-token"
PROJECT = "fuzzed"
MAX_EXAMPLES = 30
SEED = 20240611

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "deterministic": True},
    }
)
schema = schemathesis.openapi.from_path(str(default_contract_path()), config=CONFIG)


@pytest.fixture(scope="module")
def api_root() -> Iterator[str]:
    service = MockService(tokens=[TOKEN], task_latency_ms=0)
    _seed(service)
    with serve_in_background(service) as server:
        yield _root(server)


def _root(server: BackgroundServer) -> str:
    return f"{server.base_url}/api/v1/projects/{PROJECT}"


def _seed(service: MockService) -> None:
    """Real state to hit, so generated requests reach more than the 404 paths."""
    task = {
        "externalId": "wait",
        "type": "function",
        "parameters": {"function": {"externalId": "fn"}, "isAsyncComplete": True},
    }
    backend = service.backend
    for workflow in ("seeded", "a"):
        backend.upsert_version(
            PROJECT,
            {
                "workflowExternalId": workflow,
                "version": "1",
                "workflowDefinition": {"tasks": [task]},
            },
        )
        run_body: dict[str, Any] = {"authentication": {"nonce": "n"}, "input": {"x": 1}}
        for _ in range(3):
            backend.run_execution(PROJECT, workflow, "1", run_body)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: schemathesis.Case[Any], api_root: str) -> None:
    case.call_and_validate(
        base_url=api_root,
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[not_a_server_error],
        timeout=10,
    )
