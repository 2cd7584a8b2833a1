"""Error paths. Where the docs are silent the suite accepts any 4xx (the checks demand the CDF
envelope on it) and verifies that the state did not change — never the mock's particular pick.

A refused run created nothing when a control run started after it is listed and nothing else
is: an empty list right after the refusal proves nothing on a server whose list lags.
"""

from __future__ import annotations

import uuid

import pytest

from wfcontracts.checks.exchange import Exchange
from wfcontracts.contract import operations as ops
from wfcontracts.scenarios.probes import Probe, succeed_task

pytestmark = [pytest.mark.live_safe, pytest.mark.check("error_path")]


def assert_4xx(exchange: Exchange, what: str) -> None:
    assert 400 <= exchange.status < 500, f"{what}: expected a 4xx, got {exchange.status}"


@pytest.mark.operation(ops.GET)
def test_unknown_execution_id(wfc_probe: Probe) -> None:
    unknown = str(uuid.uuid4())
    assert_4xx(
        wfc_probe.session.call(ops.GET, path={"executionId": unknown}),
        "GET of an unknown execution id",
    )


@pytest.mark.operation(ops.CANCEL)
def test_cancel_unknown_execution(wfc_probe: Probe) -> None:
    path = {"executionId": str(uuid.uuid4())}
    assert_4xx(
        wfc_probe.session.call(ops.CANCEL, path=path, json={}),
        "cancel of an unknown id",
    )


@pytest.mark.operation(ops.RETRY)
def test_retry_unknown_execution(wfc_probe: Probe) -> None:
    body = {"authentication": {"nonce": wfc_probe.nonce()}}
    path = {"executionId": str(uuid.uuid4())}
    assert_4xx(
        wfc_probe.session.call(ops.RETRY, path=path, json=body),
        "retry of an unknown id",
    )


@pytest.mark.operation(ops.GET)
@pytest.mark.parametrize(
    "malformed", ["not-a-uuid", "7b6bf517-4812-4874-b227-fa7db36830a", "x" * 36]
)
def test_malformed_execution_id(wfc_probe: Probe, malformed: str) -> None:
    exchange = wfc_probe.session.call(ops.GET, path={"executionId": malformed})
    assert_4xx(exchange, f"GET of the malformed id {malformed!r}")


@pytest.mark.operation(ops.RUN)
@pytest.mark.parametrize(
    "body",
    [{}, {"authentication": {}}, {"input": {"a": 1}}],
    ids=["no-authentication", "no-nonce", "input-only"],
)
def test_run_without_nonce(
    wfc_probe: Probe, body: dict[str, object], request: pytest.FixtureRequest
) -> None:
    # A workflow per case: its list holds this case's runs only.
    case = request.node.callspec.id
    xid, version = wfc_probe.upsert(f"err-no-nonce-{case}", [succeed_task("ok")])
    exchange = wfc_probe.session.call(
        ops.RUN,
        path={"workflowExternalId": xid, "version": version},
        json=body,
    )
    assert_4xx(exchange, "run without authentication.nonce")
    wfc_probe.nothing_created(xid, version, "a run without a nonce")


@pytest.mark.operation(ops.RUN)
def test_run_unknown_version(wfc_probe: Probe) -> None:
    xid, version = wfc_probe.upsert("err-unknown-version", [succeed_task("ok")])
    body = {"authentication": {"nonce": wfc_probe.nonce()}}
    path = {"workflowExternalId": xid, "version": "does-not-exist"}
    assert_4xx(
        wfc_probe.session.call(ops.RUN, path=path, json=body),
        "run of an unknown version",
    )
    wfc_probe.nothing_created(xid, version, "a run of an unknown version")


@pytest.mark.operation(ops.LIST_WORKFLOWS)
@pytest.mark.severity("critical")
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wfcontracts-invalid-token"},
        {"Authorization": "Basic Zm9vOmJhcg=="},
    ],
    ids=["missing", "invalid", "not-bearer"],
)
def test_bad_bearer_token_is_401(wfc_probe: Probe, headers: dict[str, str]) -> None:
    exchange = wfc_probe.session.call(ops.LIST_WORKFLOWS, headers=headers, auth=None)
    assert exchange.status == 401, (
        f"a request with a {'bad' if headers else 'missing'} token got {exchange.status}, not 401"
    )


@pytest.mark.operation(ops.RUN)
@pytest.mark.severity("critical")
def test_run_without_token_is_401_and_creates_nothing(wfc_probe: Probe) -> None:
    xid, version = wfc_probe.upsert("err-no-token", [succeed_task("ok")])
    body = {"authentication": {"nonce": "wfcontracts-placeholder"}}
    exchange = wfc_probe.session.call(
        ops.RUN,
        path={"workflowExternalId": xid, "version": version},
        json=body,
        auth=None,
    )
    assert exchange.status == 401, f"run without a token got {exchange.status}, not 401"
    wfc_probe.nothing_created(xid, version, "a run without a token")


@pytest.mark.operation(ops.RUN)
@pytest.mark.severity("critical")
@pytest.mark.check("read_only_token")
def test_read_only_token_cannot_write(wfc_probe: Probe) -> None:
    token = wfc_probe.runtime.read_only_token
    if token is None:
        pytest.skip("no read-only token given (--read-only-token / CDF_READ_ONLY_TOKEN)")
    headers = {"Authorization": f"Bearer {token}"}
    xid, version = wfc_probe.upsert("err-read-only", [succeed_task("ok")])
    listed = wfc_probe.session.call(ops.LIST_WORKFLOWS, headers=headers, auth=None)
    assert listed.status == 200, f"a read-only token could not read: {listed.status}"
    body = {"authentication": {"nonce": wfc_probe.nonce()}}
    path = {"workflowExternalId": xid, "version": version}
    exchange = wfc_probe.session.call(ops.RUN, path=path, json=body, headers=headers, auth=None)
    assert exchange.status in (401, 403), f"a read-only token could run: {exchange.status}"
    wfc_probe.nothing_created(xid, version, "a run with a read-only token")
