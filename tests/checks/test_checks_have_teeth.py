"""Every check passes on the clean mock and fails on a named fault; messages contrast seen with
allowed and name the operation."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from wfcontracts.checks import REGISTRY, CheckFailure
from wfcontracts.checks.exchange import Exchange
from wfcontracts.runtime import RunOptions, Runtime, build_runtime
from wfcontracts.scenarios.probes import Probe, succeed_task, wait_task

Scenario = Callable[[Probe], None]


def completed_run(probe: Probe) -> None:
    xid, version = probe.upsert(
        "teeth-run", [succeed_task("a"), succeed_task("b", dependsOn=[{"externalId": "a"}])]
    )
    execution = probe.run(xid, version, input={"x": {"y": 1}}, metadata={"k": "v"})
    probe.wait_terminal(execution["id"])
    body = {"filter": {"workflowFilters": [{"externalId": xid}]}, "limit": 10}
    probe.session.call("ListWorkflowExecutions", json=body)


def errors(probe: Probe) -> None:
    probe.session.call("ExecutionOfSpecificRunOfWorkflow", path={"executionId": str(uuid.uuid4())})
    probe.session.call("ExecutionOfSpecificRunOfWorkflow", path={"executionId": "not-a-uuid"})


def async_update(probe: Probe) -> None:
    xid, version = probe.upsert("teeth-async", [wait_task("hold", probe.async_function)])
    execution = probe.run(xid, version)
    task = probe.wait_for_task(execution["id"], "hold")
    probe.update_task(task["id"], "COMPLETED", {"ok": True})
    probe.wait_terminal(execution["id"])


# check -> (fault that must trip it, scenario that exercises it)
TEETH: list[tuple[str, str, Scenario]] = [
    ("status_code_documented", "run_returns_200", completed_run),
    ("response_schema_conformance", "missing_required_field", completed_run),
    ("response_schema_conformance", "string_timestamps", completed_run),
    ("content_type_conformance", "wrong_content_type", completed_run),
    ("error_envelope", "bare_error_body", errors),
    ("error_envelope", "error_code_mismatch", errors),
    ("request_id_header", "no_request_id", errors),
    ("not_a_server_error", "server_error_on_unknown_id", errors),
    ("uuid4_ids", "short_execution_id", completed_run),
    ("uuid4_ids", "non_uuid4_ids", completed_run),
    ("timestamps", "negative_timestamps", completed_run),
    ("timestamps", "end_before_start", completed_run),
    ("timestamps", "string_timestamps", completed_run),
    ("enum_values_known", "unknown_execution_status", completed_run),
    ("enum_values_known", "unknown_task_status", async_update),
    ("request_echo", "metadata_not_echoed", completed_run),
    ("request_echo", "input_not_echoed", completed_run),
]


def observed_failures(faults: tuple[str, ...], scenario: Scenario) -> list[CheckFailure]:
    runtime: Runtime = build_runtime(RunOptions(faults=faults))
    seen: list[CheckFailure] = []

    def observe(_: Exchange, failures: list[CheckFailure]) -> None:
        seen.extend(failures)

    session = runtime.session()
    session.observers.append(observe)
    try:
        scenario(Probe(runtime, session))
    except CheckFailure:
        pass  # the first failure stops the scenario; the observer saw all of them
    except AssertionError:
        pass
    finally:
        runtime.close()
    return seen


def test_every_response_and_execution_check_has_teeth() -> None:
    from wfcontracts.checks import executions, response

    own = {
        name
        for name, c in REGISTRY.items()
        if c.fn.__module__ in (response.__name__, executions.__name__)
    }
    assert own == {check for check, _, _ in TEETH}


@pytest.mark.parametrize(
    ("check", "fault", "scenario"), TEETH, ids=[f"{c}<-{f}" for c, f, _ in TEETH]
)
def test_check_fails_on_fault_and_passes_clean(check: str, fault: str, scenario: Scenario) -> None:
    assert [f for f in observed_failures((), scenario) if f.check == check] == []
    caught = [f for f in observed_failures((fault,), scenario) if f.check == check]
    assert caught, f"{check} did not catch the fault {fault}"
    failure = caught[0]
    assert failure.operation and "(" in failure.operation  # "OperationId (METHOD /path)"
    assert " — contract: " in failure.message
    assert failure.reproduction and failure.reproduction.startswith("curl ")
    assert "wfcontracts-local-token" not in str(failure)


def test_failure_message_contrasts_seen_with_documented() -> None:
    caught = [
        f
        for f in observed_failures(("run_returns_200",), completed_run)
        if f.check == "status_code_documented"
    ]
    assert caught[0].message.startswith(
        "[status_code_documented] TriggerRunOfSpecificVersionOfWorkflow "
        "(POST /workflows/{workflowExternalId}/versions/{version}/run): "
        "status 200 — contract: documented 202,"
    )


def test_duplicate_check_names_are_refused() -> None:
    from wfcontracts.checks.registry import DuplicateCheckError, check

    with pytest.raises(DuplicateCheckError):
        check("uuid4_ids", severity="minor", description="dup")(lambda ctx, ex: None)
