"""Lifecycle scenarios: run, cancel, retry and async task updates, judged by the lifecycle model.

Each test drives one scenario of ``wfcontracts.scenarios.lifecycle_flows`` through the public
API; the lifecycle checks judge every response on the way. All but the timeout scenario run
unchanged on real CDF, on ``wfcontracts mock serve`` and from cassettes (``--replay``).
"""

from __future__ import annotations

import pytest

from wfcontracts.scenarios import lifecycle_flows as flows
from wfcontracts.scenarios.lifecycle_flows import LifecycleProbe

RUN = "TriggerRunOfSpecificVersionOfWorkflow"
CANCEL = "WorkflowExecutionCancellation"
RETRY = "WorkflowExecutionRetry"
UPDATE = "UpdateTaskStatus"
LIST = "ListWorkflowExecutions"

live = pytest.mark.live_safe
critical = pytest.mark.severity("critical")
major = pytest.mark.severity("major")


@live
@critical
@pytest.mark.operation(RUN)
@pytest.mark.check("references_resolved")
def test_run_completes(lifecycle: LifecycleProbe) -> None:
    flows.run_completes(lifecycle)


@live
@major
@pytest.mark.operation(RUN)
@pytest.mark.check("failure_reason")
def test_run_fails_with_reason(lifecycle: LifecycleProbe) -> None:
    flows.run_fails(lifecycle)


@live
@critical
@pytest.mark.operation(CANCEL)
@pytest.mark.check("lifecycle_transition")
def test_cancel_running(lifecycle: LifecycleProbe) -> None:
    flows.cancel_with_reason(lifecycle)


@live
@major
@pytest.mark.operation(CANCEL)
@pytest.mark.check("cancel_reason")
def test_cancel_default_reason(lifecycle: LifecycleProbe) -> None:
    flows.cancel_default_reason(lifecycle)


@live
@critical
@pytest.mark.operation(CANCEL)
@pytest.mark.check("lifecycle_transition")
def test_cancel_twice(lifecycle: LifecycleProbe) -> None:
    flows.cancel_twice(lifecycle)


@live
@critical
@pytest.mark.operation(CANCEL)
@pytest.mark.check("lifecycle_transition")
def test_cancel_completed_refused(lifecycle: LifecycleProbe) -> None:
    flows.cancel_completed(lifecycle)


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("task_effects")
def test_retry_after_cancel(lifecycle: LifecycleProbe) -> None:
    flows.retry_after_cancel(lifecycle)


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("lifecycle_transition")
def test_retry_after_failure(lifecycle: LifecycleProbe) -> None:
    flows.retry_after_failure(lifecycle)


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("retry_attempts")
def test_retry_limits(lifecycle: LifecycleProbe) -> None:
    flows.retry_limits(lifecycle)


@live
@critical
@pytest.mark.operation(UPDATE)
@pytest.mark.check("task_update_retry")
def test_failed_update_is_retried(lifecycle: LifecycleProbe) -> None:
    flows.failed_update_retried(lifecycle)


@live
@critical
@pytest.mark.operation(UPDATE)
@pytest.mark.check("task_update_retry")
def test_terminal_error_is_not_retried(lifecycle: LifecycleProbe) -> None:
    flows.terminal_error_not_retried(lifecycle)


@live
@major
@pytest.mark.operation(UPDATE)
@pytest.mark.check("update_output_merged")
def test_update_output_merged(lifecycle: LifecycleProbe) -> None:
    flows.update_output_merged(lifecycle)


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("skip_task")
def test_skip_task_continues(lifecycle: LifecycleProbe) -> None:
    flows.skip_task_continues(lifecycle)


@live
@critical
@pytest.mark.operation(RUN)
@pytest.mark.check("depends_on_order")
def test_depends_on_order(lifecycle: LifecycleProbe) -> None:
    flows.depends_on_order(lifecycle)


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("lifecycle_transition")
def test_retry_running_refused(lifecycle: LifecycleProbe) -> None:
    flows.retry_running_refused(lifecycle)


@live
@critical
@pytest.mark.operation(RETRY)
@pytest.mark.check("lifecycle_transition")
def test_retry_completed_refused(lifecycle: LifecycleProbe) -> None:
    flows.retry_completed_refused(lifecycle)


@live
@major
@pytest.mark.operation(LIST)
@pytest.mark.check("list_filters")
def test_list_filters_and_pages(lifecycle: LifecycleProbe) -> None:
    flows.list_filters_and_pages(lifecycle)


@pytest.mark.mock_only
@major
@pytest.mark.operation(UPDATE)
@pytest.mark.check("task_timeout")
def test_task_times_out(lifecycle: LifecycleProbe) -> None:
    flows.task_times_out(lifecycle)


@pytest.mark.mock_only
@major
@pytest.mark.operation(RETRY)
@pytest.mark.check("lifecycle_transition")
def test_execution_times_out(lifecycle: LifecycleProbe) -> None:
    flows.execution_times_out(lifecycle)
