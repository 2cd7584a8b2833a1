"""What a live run creates is deleted at the end: only run-prefixed workflows, even with a
running execution, and nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wfcontracts.mock.server import BackgroundServer, serve_in_background
from wfcontracts.mock.service import MockService
from wfcontracts.runtime import RunOptions, Runtime, build_runtime
from wfcontracts.scenarios.cleanup import delete_run_resources
from wfcontracts.scenarios.probes import Probe, succeed_task, wait_task

TOKEN = "wfcontracts-cleanup-token"


@pytest.fixture
def live() -> Iterator[tuple[Runtime, BackgroundServer]]:
    with serve_in_background(MockService(tokens=[TOKEN])) as server:
        runtime = build_runtime(RunOptions(base_url=server.base_url, project="p", token=TOKEN))
        yield runtime, server
        runtime.close()


def workflow_ids(runtime: Runtime) -> set[str]:
    return {
        w["externalId"]
        for w in runtime.client.get("workflows", params={"limit": 1000}).json()["items"]
    }


def test_cleanup_deletes_only_the_run_prefix(live: tuple[Runtime, BackgroundServer]) -> None:
    runtime, _ = live
    probe = Probe(runtime, runtime.session())
    held, version = probe.upsert("held", [wait_task("hold", probe.async_function)])
    execution = probe.run(held, version)
    probe.wait_for_task(execution["id"], "hold")
    probe.upsert("done", [succeed_task("ok")])
    runtime.client.post("workflows", json={"items": [{"externalId": "someone-elses-workflow"}]})
    assert {held, probe.name("done"), "someone-elses-workflow"} <= workflow_ids(runtime)

    deleted = delete_run_resources(runtime)

    assert sorted(deleted) == sorted([held, probe.name("done")])
    assert workflow_ids(runtime) == {"someone-elses-workflow"}


def test_cleanup_of_an_unreachable_target_does_not_raise() -> None:
    runtime = build_runtime(
        RunOptions(base_url="http://127.0.0.1:9", project="p", token=TOKEN), check_target=False
    )
    try:
        assert delete_run_resources(runtime) == []
    finally:
        runtime.close()
