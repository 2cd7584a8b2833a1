"""Every lifecycle scenario has teeth: it passes on the clean mock and fails, naming the right
check, against the embedded mock with the matching named fault on (one test per fault)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wfcontracts.checks import CheckContext, CheckFailure
from wfcontracts.mock.faults import FAULTS
from wfcontracts.runtime import RunOptions, Runtime, build_runtime
from wfcontracts.scenarios import lifecycle_flows as flows
from wfcontracts.scenarios.lifecycle_flows import SCENARIOS, LifecycleProbe, Scenario

# fault -> (the scenario that must catch it, the check its failure names)
CAUGHT_BY: dict[str, tuple[Scenario, str]] = {
    "cancel_not_terminating": (flows.cancel_with_reason, "lifecycle_transition"),
    "cancel_leaves_tasks_running": (flows.cancel_with_reason, "task_effects"),
    "cancel_ignores_reason": (flows.cancel_with_reason, "cancel_reason"),
    "cancel_finished_accepted": (flows.cancel_twice, "lifecycle_transition"),
    "retry_running_accepted": (flows.retry_running_refused, "lifecycle_transition"),
    "retry_new_id": (flows.retry_after_cancel, "lifecycle_transition"),
    "retry_reruns_completed": (flows.retry_after_cancel, "task_effects"),
    "retry_no_extra_attempt": (flows.retry_limits, "retry_attempts"),
    "retry_resets_attempts": (flows.retry_limits, "retry_attempts"),
    "retry_reruns_skipped": (flows.skip_task_continues, "task_effects"),
    "skiptask_aborts": (flows.skip_task_continues, "skip_task"),
    "terminal_error_retried": (flows.terminal_error_not_retried, "task_update_retry"),
    # The oracle owes the next attempt of a FAILED report with retries left (task_effects).
    "failed_update_not_retried": (flows.failed_update_retried, "task_effects"),
    "dependson_ignored": (flows.depends_on_order, "depends_on_order"),
    "references_unresolved": (flows.run_completes, "references_resolved"),
    "abort_without_reason": (flows.run_fails, "failure_reason"),
    "list_ignores_status_filter": (flows.list_filters_and_pages, "list_filters"),
    "list_ignores_workflow_filter": (flows.list_filters_and_pages, "list_filters"),
    "list_limit_ignored": (flows.list_filters_and_pages, "list_pagination"),
    "cursor_repeats_items": (flows.list_filters_and_pages, "list_pagination"),
    "update_output_not_merged": (flows.update_output_merged, "update_output_merged"),
    # Effects that never show: the oracle's obligations fail when the deadline passes.
    "update_never_applied": (flows.update_output_merged, "lifecycle_transition"),
    "cancel_tasks_stuck": (flows.cancel_with_reason, "task_effects"),
}


@pytest.fixture(scope="module")
def shared() -> Iterator[Runtime]:
    # Loading the contract dominates build_runtime; one embedded mock, reset per test.
    runtime = build_runtime(RunOptions())
    yield runtime
    runtime.close()


def probe(runtime: Runtime, *faults: str) -> LifecycleProbe:
    """A fresh state: mock reset, ``faults`` on, an empty check context (oracle history)."""
    assert runtime.mock is not None
    runtime.mock.reset()
    runtime.mock.set_faults(list(faults))
    runtime.context = CheckContext(runtime.contract)
    return LifecycleProbe(runtime, runtime.session())


def test_every_listed_fault_exists() -> None:
    assert set(CAUGHT_BY) <= set(FAULTS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_passes_on_the_clean_mock(shared: Runtime, name: str) -> None:
    SCENARIOS[name](probe(shared))


@pytest.mark.parametrize("fault", sorted(CAUGHT_BY))
def test_scenario_fails_with_the_fault_on(shared: Runtime, fault: str) -> None:
    scenario, check = CAUGHT_BY[fault]
    with pytest.raises(CheckFailure) as caught:
        scenario(probe(shared, fault))
    assert caught.value.check == check, str(caught.value)
    assert "contract:" in caught.value.message


def test_a_failure_message_contrasts_seen_with_allowed() -> None:
    runtime = build_runtime(RunOptions(faults=("cancel_not_terminating",)))
    with pytest.raises(CheckFailure) as caught:
        flows.cancel_with_reason(LifecycleProbe(runtime, runtime.session()))
    assert caught.value.message == (
        "[lifecycle_transition] WorkflowExecutionCancellation "
        "(POST /workflows/executions/{executionId}/cancel): "
        "cancel answered 200 with status 'RUNNING' — contract: TERMINATED"
    )
    assert caught.value.reproduction is not None
    assert "wfcontracts-local-token" not in caught.value.reproduction


def test_the_suite_records_transition_coverage(shared: Runtime) -> None:
    p = probe(shared)
    for name in ("cancel_twice", "retry_after_failure", "retry_completed_refused", "run_completes"):
        SCENARIOS[name](p)
    coverage = p.runtime.context.extras["transitions"].as_dict()
    exercised = {(e["from"], e["operation"]) for e in coverage["legal"] if e["exercised"]}
    assert {(None, "run"), ("RUNNING", "cancel"), ("FAILED", "retry")} <= exercised
    assert {("RUNNING", "complete"), ("RUNNING", "fail")} <= exercised
    probed = {(e["from"], e["operation"]) for e in coverage["illegal"] if e["exercised"]}
    assert {("TERMINATED", "cancel"), ("COMPLETED", "retry")} <= probed
    assert all(e["failed"] == 0 for e in coverage["legal"] + coverage["illegal"])
