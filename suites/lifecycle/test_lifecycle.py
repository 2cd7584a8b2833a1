"""Lifecycle scenarios: run, cancel, retry and async task updates, judged by the lifecycle model.

Each test drives one scenario of ``wfcontracts.scenarios.lifecycle_flows`` (named by
``@scenario``) through the public API; the lifecycle checks judge every response on the way.
All but the timeout scenarios run unchanged on real CDF, on ``wfcontracts mock serve`` (at any
pace; there all at once, see conftest.py) and from cassettes (``--replay``).
"""

from __future__ import annotations

import pytest

from wfcontracts.contract import operations as ops
from wfcontracts.scenarios import lifecycle_flows as flows
from wfcontracts.scenarios.lifecycle_flows import ScenarioRun, scenario

RUN = ops.RUN
CANCEL = ops.CANCEL
RETRY = ops.RETRY
UPDATE = ops.UPDATE
LIST = ops.LIST

live = pytest.mark.live_safe
critical = pytest.mark.severity("critical")
major = pytest.mark.severity("major")


@live
@critical
@pytest.mark.operation(RUN)
@pytest.mark.check("references_resolved")
@scenario(flows.run_completes)
def test_run_completes(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@major
@pytest.mark.operation(RUN)
@pytest.mark.check("failure_reason")
@scenario(flows.run_fails)
def test_run_fails_with_reason(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(CANCEL)
@pytest.mark.check("lifecycle_transition")
@scenario(flows.cancel_with_reason)
def test_cancel_running(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@major
@pytest.mark.operation(CANCEL)
@pytest.mark.check("cancel_reason")
@scenario(flows.cancel_default_reason)
def test_cancel_default_reason(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(CANCEL)
@pytest.mark.check("lifecycle_transition")
@scenario(flows.cancel_twice)
def test_cancel_twice(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(CANCEL)
@pytest.mark.check("lifecycle_transition")
@scenario(flows.cancel_completed)
def test_cancel_completed_refused(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("task_effects")
@scenario(flows.retry_after_cancel)
def test_retry_after_cancel(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("lifecycle_transition")
@scenario(flows.retry_after_failure)
def test_retry_after_failure(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("retry_attempts")
@scenario(flows.retry_limits)
def test_retry_limits(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(UPDATE)
@pytest.mark.check("task_update_retry")
@scenario(flows.failed_update_retried)
def test_failed_update_is_retried(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(UPDATE)
@pytest.mark.check("task_update_retry")
@scenario(flows.terminal_error_not_retried)
def test_terminal_error_is_not_retried(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@major
@pytest.mark.operation(UPDATE)
@pytest.mark.check("update_output_merged")
@scenario(flows.update_output_merged)
def test_update_output_merged(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("skip_task")
@scenario(flows.skip_task_continues)
def test_skip_task_continues(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(RUN)
@pytest.mark.check("depends_on_order")
@scenario(flows.depends_on_order)
def test_depends_on_order(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("lifecycle_transition")
@scenario(flows.retry_running_refused)
def test_retry_running_refused(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("lifecycle_transition")
@scenario(flows.retry_completed_refused)
def test_retry_completed_refused(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@live
@major
@pytest.mark.operation(LIST)
@pytest.mark.check("list_filters")
@scenario(flows.list_filters_and_pages)
def test_list_filters_and_pages(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@pytest.mark.mock_only
@major
@pytest.mark.operation(UPDATE)
@pytest.mark.check("task_timeout")
@scenario(flows.task_times_out)
def test_task_times_out(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()


@pytest.mark.mock_only
@major
@pytest.mark.operation(RETRY)
@pytest.mark.check("lifecycle_transition")
@scenario(flows.execution_times_out)
def test_execution_times_out(lifecycle: ScenarioRun) -> None:
    lifecycle.verify()
