"""The official cognite-sdk, unmodified, against the mock at `wfcontracts mock serve`'s default
pace (``real``), over loopback HTTP on the wall clock: what a user of the served mock sees.

Each test's time budget follows from the pace's documented windows (clock.PACES["real"]).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

import pytest
from cognite.client import ClientConfig, CogniteClient
from cognite.client.credentials import Token
from cognite.client.data_classes import (
    CDFTaskParameters,
    FunctionTaskParameters,
    WorkflowDefinitionUpsert,
    WorkflowExecutionDetailed,
    WorkflowTask,
    WorkflowVersionUpsert,
)

from wfcontracts.cli import build_parser
from wfcontracts.mock.server import BackgroundServer, serve_in_background
from wfcontracts.mock.service import MockService

TOKEN = "sdk-pace-token"
PROJECT = "sdk-pace"
_names = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    # Exactly what `wfcontracts mock serve --token T` builds: its defaults, not ours.
    args = build_parser().parse_args(["mock", "serve", "--token", TOKEN])
    assert args.pace == "real"
    service = MockService(
        tokens=args.token, pace=args.pace, seed=args.seed, task_latency_ms=args.task_latency_ms
    )
    with serve_in_background(service) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: BackgroundServer) -> CogniteClient:
    config = ClientConfig(
        client_name="wfcontracts-pace-tests",
        project=PROJECT,
        credentials=Token(TOKEN),
        base_url=server.base_url,
    )
    return CogniteClient(config)


def _version(client: CogniteClient, tasks: list[WorkflowTask]) -> str:
    workflow_id = f"pace-{next(_names)}"
    client.workflows.versions.upsert(
        WorkflowVersionUpsert(
            workflow_external_id=workflow_id,
            version="1",
            workflow_definition=WorkflowDefinitionUpsert(tasks=tasks, description="pace"),
        )
    )
    return workflow_id


def _function(external_id: str, *, is_async: bool = False) -> WorkflowTask:
    return WorkflowTask(
        external_id=external_id,
        parameters=FunctionTaskParameters(external_id="probe-function", is_async_complete=is_async),
        retries=0,
    )


def _poll(
    client: CogniteClient,
    execution_id: str,
    done: Callable[[WorkflowExecutionDetailed], bool],
    *,
    every_s: float,
    within_s: float,
) -> tuple[WorkflowExecutionDetailed, list[str]]:
    """Retrieve every ``every_s`` until ``done`` holds; fail after ``within_s``."""
    deadline = time.monotonic() + within_s
    seen: list[str] = []
    while True:
        detailed = client.workflows.executions.retrieve_detailed(execution_id)
        assert detailed is not None
        seen.append(str(detailed.status))
        if done(detailed):
            return detailed, seen
        assert time.monotonic() < deadline, f"not done within {within_s} s: {seen}"
        time.sleep(every_s)


def test_run_then_cancel_at_once_finds_it_running(client: CogniteClient) -> None:
    workflow_id = _version(client, [_function("work")])
    run = client.workflows.executions.run(workflow_id, "1")
    assert run.status == "running"
    cancelled = client.workflows.executions.cancel(run.id, reason="changed my mind")
    assert cancelled.status == "terminated"
    assert cancelled.reason_for_incompletion == "changed my mind"
    detailed = client.workflows.executions.retrieve_detailed(run.id)
    assert detailed is not None and detailed.status == "terminated"
    # tasks (if the run was picked up at all) turn CANCELED within the cancel window
    settled, _ = _poll(
        client,
        run.id,
        lambda d: all(str(t.status) == "canceled" for t in d.executed_tasks),
        every_s=0.2,
        within_s=3.0,
    )
    assert settled.status == "terminated"


def test_run_and_poll_every_half_second_until_done(client: CogniteClient) -> None:
    tasks = [
        WorkflowTask(
            external_id="lookup",
            parameters=CDFTaskParameters(resource_path="/timeseries", method="GET"),
            retries=0,
        ),
        WorkflowTask(
            external_id="assets",
            parameters=CDFTaskParameters(
                resource_path="/assets/list", method="POST", body={"limit": 5}
            ),
            retries=0,
            depends_on=["lookup"],
        ),
        WorkflowTask(
            external_id="after",
            parameters=FunctionTaskParameters(external_id="probe-function"),
            retries=0,
            depends_on=["assets"],
        ),
    ]
    workflow_id = _version(client, tasks)
    run = client.workflows.executions.run(workflow_id, "1")
    done, seen = _poll(client, run.id, lambda d: d.status != "running", every_s=0.5, within_s=30)
    assert done.status == "completed", done.reason_for_incompletion
    assert seen.count("running") >= 2  # it takes its time, as on CDF
    # pickup 0.5-1.5 s + cdf 1-2 s twice + function 2-3 s: 4.5-8.5 s of server time
    assert done.start_time is not None and done.end_time is not None
    assert 500 <= done.start_time - run.created_time <= 1500
    assert 4_500 <= done.end_time - run.created_time <= 8_500
    assert {t.external_id: t.status for t in done.executed_tasks} == {
        "lookup": "completed",
        "assets": "completed",
        "after": "completed",
    }


def test_async_task_completed_through_the_sdk_finishes_within_seconds(
    client: CogniteClient,
) -> None:
    workflow_id = _version(client, [_function("wait", is_async=True)])
    started = time.monotonic()
    run = client.workflows.executions.run(workflow_id, "1")
    waiting, _ = _poll(
        client,
        run.id,
        lambda d: any(t.status == "in_progress" for t in d.executed_tasks),
        every_s=0.1,
        within_s=3.0,
    )
    task_id = waiting.executed_tasks[0].id
    updated = client.workflows.tasks.update(task_id, "completed", output={"ok": True})
    assert updated.status == "completed"  # the answer shows the new state at once
    done, _ = _poll(client, run.id, lambda d: d.status != "running", every_s=0.1, within_s=3.0)
    assert done.status == "completed"
    assert [t.status for t in done.executed_tasks] == ["completed"]
    assert time.monotonic() - started < 5.0
