"""Single-constraint probes: every documented limit becomes a probe, every probe gets its turn
within a small budget, and the `documented_limits` check judges at / past / missing right."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wfcontracts.checks import CheckContext, CheckFailure, Exchange
from wfcontracts.contract import Contract, load_contract
from wfcontracts.fuzzing.checks import documented_limits, vouch_for_body
from wfcontracts.fuzzing.hooks import CANCEL, RETRY, RUN, UPDATE, probe_index, single_probes

RUN_PATH = "/workflows/wf/versions/1/run"
NONCE = {"authentication": {"nonce": "n-1"}}


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract()


def exchange(contract: Contract, op_id: str, body: dict[str, Any], status: int) -> Exchange:
    return Exchange(
        operation=contract.operation(op_id),
        method="post",
        url=f"http://wfcontracts.mock/api/v1/projects/p{RUN_PATH}",
        request_headers={"content-type": "application/json"},
        request_body=json.dumps(body).encode(),
        status=status,
        response_headers={"content-type": "application/json"},
        response_body=b'{"error":{"code":400,"message":"no"}}',
    )


def judge(contract: Contract, body: dict[str, Any], status: int, *, vouched: bool = False) -> str:
    """'' when the check passes, else its message."""
    ctx = CheckContext(contract)
    if vouched:
        vouch_for_body(ctx, body)
    try:
        documented_limits(ctx, exchange(contract, RUN, body, status))
    except CheckFailure as failure:
        return failure.message
    return ""


def test_every_documented_limit_of_run_and_cancel_is_a_probe(contract: Contract) -> None:
    probes = single_probes(contract)
    run = {p.name for p in probes[RUN]}
    for constraint in (
        "maxProperties=10",
        "propertyNames.maxLength=32",
        "additionalProperties.maxLength=255",
    ):
        assert f"{RUN}:metadata:{constraint}:accept" in run
        assert f"{RUN}:metadata:{constraint}:reject" in run
    assert f"{RUN}:authentication/nonce:required:reject" in run
    assert {p.name for p in probes[CANCEL]} >= {f"{CANCEL}:reason:maxLength=500:reject"}
    assert {p.expect for p in probes[RETRY]} == {"reject"}
    assert any("x-max-json-bytes" in p.name for p in probes[UPDATE])


@pytest.mark.parametrize("count", [1, 4, 10])
def test_each_probe_goes_once_within_twice_its_count(count: int) -> None:
    first = [probe_index(turn, count) for turn in range(2 * count)]
    assert sorted(i for i in first if i is not None) == list(range(count))
    later = [probe_index(turn, count) for turn in range(2 * count, 2 * count + 8 * count)]
    assert sorted(i for i in later if i is not None) == list(range(count))


def test_past_a_limit_must_be_rejected(contract: Contract) -> None:
    body = {**NONCE, "metadata": {f"k{i}": "v" for i in range(11)}}
    assert "maxProperties measure 11 accepted with 202" in judge(contract, body, 202)
    assert judge(contract, body, 400) == ""


def test_at_a_limit_is_judged_only_when_vouched(contract: Contract) -> None:
    body = {**NONCE, "metadata": {"k" * 32: "v"}}
    assert judge(contract, body, 400) == ""
    assert "refused with 400" in judge(contract, body, 400, vouched=True)
    assert judge(contract, body, 409, vouched=True) == ""  # state, not the limit
    assert "refused as too large (413)" in judge(contract, body, 413)


def test_a_missing_nonce_must_be_rejected(contract: Contract) -> None:
    body: dict[str, Any] = {"authentication": {}}
    assert "lacking a required field accepted with 202" in judge(contract, body, 202)
    assert judge(contract, body, 400) == ""
