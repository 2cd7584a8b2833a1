"""Issue 16: the fuzz suite judges only what the docs state.

Against a correct server that validates every documented rule and is lenient where the docs are
silent, the suite passes; what that server accepts against inferred, SDK-side or toolkit-side
constraints is reported as advisories (`InferredConstraintAdvisory`), not failures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from wfcontracts.contract import Contract, load_contract
from wfcontracts.mock.http import Dispatcher, MockRequest, MockResponse
from wfcontracts.mock.server import serve_in_background
from wfcontracts.mock.service import MockService

pytest_plugins = ["pytester"]

SUITE = Path(__file__).resolve().parents[2] / "suites" / "fuzz"
TOKEN = "wfcontracts-fuzz-documented-token"
PREFIX = "/api/v1/projects/"


class DocumentedOnlyMock(MockService):
    """The mock validating the contract's documented view only.

    Where the docs are silent it accepts what its backend can process; a request breaking only
    inferred rules that the backend cannot process (it relies on the full contract) is refused
    with a 400, which is as legitimate an answer as accepting it.
    """

    def __init__(self, full: Contract, tokens: list[str]) -> None:
        super().__init__(full.documented, tokens=tokens)
        # Every adapter (ASGI app, WSGI, transport) answers through the dispatcher.
        self.dispatcher = cast(Dispatcher, _RefuseWhatItCannotProcess(self.dispatcher, full))


class _RefuseWhatItCannotProcess:
    """A dispatcher turning a 500 on a request that breaks inferred rules into a 400."""

    def __init__(self, inner: Any, full: Contract) -> None:
        self.inner = inner
        self.full = full

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def handle(self, request: MockRequest) -> MockResponse:
        answer: MockResponse = self.inner.handle(request)
        if answer.status < 500 or not self._breaks_inferred_rules(request):
            return answer
        body = {"error": {"code": 400, "message": "not processed (no documented rule says so)"}}
        headers = {"content-type": "application/json", "x-request-id": "documented-only"}
        return MockResponse(400, json.dumps(body).encode(), headers)

    def _breaks_inferred_rules(self, request: MockRequest) -> bool:
        project_and_rest = request.raw_path.removeprefix(PREFIX)
        matched = self.full.match(request.method, "/" + project_and_rest.partition("/")[2])
        if matched is None:
            return False
        try:
            body = json.loads(request.body) if request.body.strip() else None
        except ValueError:
            return False
        operation, params = matched
        has_body = body is not None
        found = self.full.request_violations(
            operation.operation_id, params, request.query, body, has_body=has_body
        )
        return bool(found)


def test_a_documented_only_server_passes_with_advisories(pytester: pytest.Pytester) -> None:
    server = DocumentedOnlyMock(load_contract(), tokens=[TOKEN])
    with serve_in_background(server) as served:
        result = pytester.runpytest_subprocess(
            str(SUITE), "--seed", "1", "-p", "no:cacheprovider",
            "--base-url", served.base_url, "--project", "p", "--token", TOKEN,
            "-W", "always::wfcontracts.fuzzing.checks.InferredConstraintAdvisory",
            timeout=900,
        )  # fmt: skip
    output = result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0, output[-6000:]
    assert outcomes.get("passed", 0) == 16
    advisories = [line for line in output.splitlines() if "InferredConstraintAdvisory:" in line]
    text = "\n".join(advisories)
    # What issue 16 lists, as far as seed 1 meets it; each an advisory, none a failure.
    for expected in (
        "DeleteWorkflows (POST /workflows/delete): accepted with 200 a request breaking only "
        "constraints the docs do not state: /items minItems",
        "createSessions (POST /sessions)",
        "CreateOrUpdateWorkflowVersion (POST /workflows/versions)",
    ):
        assert expected in text, text
