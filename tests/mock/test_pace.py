"""The mock's pace on a virtual clock: what GET and list show just before and at the end of each
delay window, the windows themselves, determinism under the seed, and the paced faults.

Expected delays come from the public ``Pace.draw`` with the purposes the backend uses; every
test also checks that the delay lies in its documented window, so a drift in either shows.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfcontracts.cli import build_parser
from wfcontracts.mock.backend import WorkflowsBackend
from wfcontracts.mock.clock import PACES, SERVE_PACE, Pace, UnknownPaceError, VirtualClock, Window
from wfcontracts.mock.http import MockRequest
from wfcontracts.mock.models import DomainError
from wfcontracts.mock.service import LOCAL_TOKEN, MockService, embedded_mock

from .domain_helpers import (
    NONCE,
    PROJECT,
    async_task,
    cdf_task,
    detail,
    function_task,
    make_backend,
    put_version,
    run,
    status_of,
    tasks_of,
    update,
)

REAL = PACES["real"]
MINUTE = 60_000


def _delay(backend: WorkflowsBackend, k: int, purpose: str, window: Window) -> int:
    """What the backend draws for the k-th execution of PROJECT, checked against its window."""
    pace = backend.pace
    drawn = pace.draw(pace.execution_key(PROJECT, k), purpose, window)
    assert window[0] <= drawn <= window[1], (purpose, drawn, window)
    return drawn


def _move_to(clock: VirtualClock, at: int) -> None:
    clock.advance(at - clock.now_ms())


def _listed(backend: WorkflowsBackend) -> set[str]:
    return {e["id"] for e in backend.list_executions(PROJECT, {})["items"]}


def _picked_up(backend: WorkflowsBackend, clock: VirtualClock, ex: dict[str, Any], k: int) -> int:
    """Move to the pickup of the k-th execution; return its time."""
    at: int = ex["createdTime"] + _delay(backend, k, "pickup", REAL.pickup)
    _move_to(clock, at)
    return at


# -- profiles ----------------------------------------------------------------------------------


def test_profiles_fast_is_real_divided_by_ten_and_instant_is_zero() -> None:
    fast, instant = PACES["fast"], PACES["instant"]
    assert REAL.response == (60, 120) and REAL.pickup == (500, 1500)
    assert REAL.update == REAL.cancel == REAL.retry == (300, 1000)
    assert REAL.listing == (400, 600)
    assert REAL.task("cdf") == (1000, 2000) and REAL.task("function") == (2000, 3000)
    assert REAL.task("transformation") == REAL.task("simulation") == (3000, 4000)
    assert fast.pickup == (50, 150) and fast.task("function") == (200, 300)
    assert fast.update == (30, 100) and fast.response == (6, 12)
    for window in (instant.pickup, instant.update, instant.task("function"), instant.response):
        assert window == (0, 0)


def test_unknown_pace_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(UnknownPaceError, match="instant, fast, real"):
        Pace("leisurely")


def test_draws_are_stable_in_their_window_and_depend_on_the_seed() -> None:
    def pickups(pace: Pace) -> list[int]:
        return [pace.draw(pace.execution_key("p", k), "pickup", REAL.pickup) for k in range(50)]

    one = Pace("real", 1)
    draws = pickups(one)
    assert draws == pickups(Pace("real", 1))
    assert draws != pickups(Pace("real", 2))
    assert all(500 <= d <= 1500 for d in draws) and len(set(draws)) > 25  # jittered
    assert one.execution_key("p", 1) != one.execution_key("q", 1)


def test_serve_defaults_to_the_real_pace() -> None:
    args = build_parser().parse_args(["mock", "serve"])
    assert SERVE_PACE == "real"
    assert (args.pace, args.seed, args.task_latency_ms) == ("real", 0, None)
    flags = ["mock", "serve", "--pace", "fast", "--seed", "7", "--task-latency-ms", "5"]
    args = build_parser().parse_args(flags)
    assert (args.pace, args.seed, args.task_latency_ms) == ("fast", 7, 5)


# -- run, pickup, task work, listing -----------------------------------------------------------


def test_run_is_picked_up_after_the_pickup_delay() -> None:
    backend, clock = make_backend(pace="real")
    put_version(backend, [function_task("a")])
    created = run(backend)
    assert created["status"] == "RUNNING" and "startTime" not in created
    pickup = created["createdTime"] + _delay(backend, 1, "pickup", REAL.pickup)

    _move_to(clock, pickup - 1)
    before = detail(backend, created["id"])
    assert before["status"] == "RUNNING" and "startTime" not in before
    assert before["executedTasks"] == []

    _move_to(clock, pickup)
    after = detail(backend, created["id"])
    assert after["startTime"] == pickup
    assert [(t["externalId"], t["status"], t["startTime"]) for t in after["executedTasks"]] == [
        ("a", "IN_PROGRESS", pickup)
    ]


@pytest.mark.parametrize(
    ("kind", "window"),
    [
        ("cdf", (1000, 2000)),
        ("function", (2000, 3000)),
        ("transformation", (3000, 4000)),
        ("simulation", (3000, 4000)),
    ],
)
def test_task_work_takes_its_type_s_window(kind: str, window: Window) -> None:
    backend, clock = make_backend(pace="real")
    tasks = {
        "cdf": cdf_task("t"),
        "function": function_task("t"),
        "transformation": {
            "externalId": "t",
            "type": "transformation",
            "parameters": {"transformation": {"externalId": "tr"}},
        },
        "simulation": {
            "externalId": "t",
            "type": "simulation",
            "parameters": {"simulation": {"routineExternalId": "r"}},
        },
    }
    put_version(backend, [tasks[kind]])
    ex = run(backend)
    started = _picked_up(backend, clock, ex, 1)
    done_at = started + _delay(backend, 1, "task:t:1", window)

    _move_to(clock, done_at - 1)
    assert tasks_of(backend, ex["id"])["t"]["status"] == "IN_PROGRESS"
    assert status_of(backend, ex["id"]) == "RUNNING"
    _move_to(clock, done_at)
    task = tasks_of(backend, ex["id"])["t"]
    assert (task["status"], task["endTime"]) == ("COMPLETED", done_at)
    assert detail(backend, ex["id"])["endTime"] == done_at


def test_a_failed_attempt_is_retried_with_its_own_work_time() -> None:
    backend, clock = make_backend(pace="real")
    put_version(backend, [cdf_task("c", ok=False, retries=1)])
    ex = run(backend)
    started = _picked_up(backend, clock, ex, 1)
    first = started + _delay(backend, 1, "task:c:1", REAL.task("cdf"))
    second = first + _delay(backend, 1, "task:c:2", REAL.task("cdf"))
    _move_to(clock, second - 1)
    assert tasks_of(backend, ex["id"])["c"]["status"] == "IN_PROGRESS"
    _move_to(clock, second)
    assert status_of(backend, ex["id"]) == "FAILED"


def test_a_new_execution_is_listed_after_the_listing_delay() -> None:
    backend, clock = make_backend(pace="real")
    put_version(backend, [async_task("w")])
    ex = run(backend)
    listed_at = ex["createdTime"] + _delay(backend, 1, "listing", REAL.listing)
    assert detail(backend, ex["id"])["status"] == "RUNNING"  # GET finds it at once
    _move_to(clock, listed_at - 1)
    assert ex["id"] not in _listed(backend)
    _move_to(clock, listed_at)
    assert _listed(backend) == {ex["id"]}


def test_listing_keeps_newest_first_when_later_runs_show_first() -> None:
    backend, clock = make_backend(pace="real")
    put_version(backend, [async_task("w")])
    ids = []
    for _ in range(8):
        ids.append(run(backend)["id"])
        clock.advance(20)  # 8 runs within 160 ms: their 400-600 ms listing delays cross
    clock.advance(MINUTE)
    items = backend.list_executions(PROJECT, {})["items"]
    assert [e["id"] for e in items] == ids[::-1]


def test_deleting_a_workflow_counts_its_not_yet_listed_executions() -> None:
    backend, clock = make_backend(pace="real")
    put_version(backend, [async_task("w")])
    ex = run(backend)
    with pytest.raises(DomainError) as refused:
        backend.delete_workflows(PROJECT, ["wf"], ignore_unknown_ids=False)
    assert refused.value.status == 409
    backend.cancel_execution(PROJECT, ex["id"], {})
    backend.delete_workflows(PROJECT, ["wf"], ignore_unknown_ids=False)
    clock.advance(MINUTE)
    assert _listed(backend) == set()


def test_task_latency_overrides_the_pace_s_task_windows() -> None:
    backend, clock = make_backend(pace="real", latency=10)
    put_version(backend, [function_task("a"), cdf_task("b", "a")])
    ex = run(backend)
    started = _picked_up(backend, clock, ex, 1)
    _move_to(clock, started + 20)
    tasks = tasks_of(backend, ex["id"])
    assert [tasks[x]["endTime"] - started for x in ("a", "b")] == [10, 20]


def test_the_fast_pace_is_tens_of_milliseconds() -> None:
    backend, clock = make_backend(pace="fast")
    put_version(backend, [function_task("a")])
    ex = run(backend)
    fast = PACES["fast"]
    pickup = _delay(backend, 1, "pickup", fast.pickup)
    work = _delay(backend, 1, "task:a:1", fast.task("function"))
    _move_to(clock, ex["createdTime"] + pickup + work - 1)
    assert status_of(backend, ex["id"]) == "RUNNING"
    clock.advance(1)
    assert status_of(backend, ex["id"]) == "COMPLETED"
    assert 250 <= pickup + work <= 450


def test_the_instant_pace_applies_everything_inside_the_request() -> None:
    backend, _ = make_backend()
    put_version(backend, [async_task("w"), function_task("after", "w")])
    ex = run(backend)
    assert ex["startTime"] == ex["createdTime"] and _listed(backend) == {ex["id"]}
    update(backend, ex["id"], "w", "COMPLETED")
    assert status_of(backend, ex["id"]) == "COMPLETED"


# -- task update, cancel, retry ----------------------------------------------------------------


def test_task_update_answers_the_new_state_and_shows_it_after_the_update_delay() -> None:
    backend, clock = make_backend(pace="real")
    put_version(backend, [async_task("w"), function_task("after", "w")])
    ex = run(backend)
    _picked_up(backend, clock, ex, 1)
    clock.advance(5_000)
    reported = clock.now_ms()
    answer = update(backend, ex["id"], "w", "COMPLETED", output={"r": 1})
    assert (answer["status"], answer["endTime"], answer["output"]["r"]) == (
        "COMPLETED",
        reported,
        1,
    )
    shown = reported + _delay(backend, 1, "update:w:1", REAL.update)

    _move_to(clock, shown - 1)
    waiting = tasks_of(backend, ex["id"])
    assert waiting["w"]["status"] == "IN_PROGRESS" and "r" not in waiting["w"]["output"]
    assert "after" not in waiting
    with pytest.raises(DomainError) as twice:  # already reported: no second answer
        update(backend, ex["id"], "w", "FAILED")
    assert twice.value.status == 400

    _move_to(clock, shown)
    tasks = tasks_of(backend, ex["id"])
    assert (tasks["w"]["status"], tasks["w"]["endTime"]) == ("COMPLETED", reported)
    assert tasks["w"]["output"]["r"] == 1
    assert (tasks["after"]["status"], tasks["after"]["startTime"]) == ("IN_PROGRESS", shown)


def test_failed_update_retries_the_task_after_the_update_delay() -> None:
    backend, clock = make_backend(pace="real")
    put_version(backend, [async_task("w", retries=1)])
    ex = run(backend)
    _picked_up(backend, clock, ex, 1)
    assert update(backend, ex["id"], "w", "FAILED")["status"] == "FAILED"
    shown = clock.now_ms() + _delay(backend, 1, "update:w:1", REAL.update)
    _move_to(clock, shown - 1)
    assert tasks_of(backend, ex["id"])["w"]["status"] == "IN_PROGRESS"
    first_call = tasks_of(backend, ex["id"])["w"]["output"]["callId"]
    _move_to(clock, shown)
    retried = tasks_of(backend, ex["id"])["w"]
    assert retried["status"] == "IN_PROGRESS" and retried["output"]["callId"] != first_call


def test_cancel_terminates_at_once_and_cancels_tasks_after_the_cancel_delay() -> None:
    backend, clock = make_backend(pace="real")
    put_version(backend, [async_task("w"), function_task("f")])
    ex = run(backend)
    _picked_up(backend, clock, ex, 1)
    cancelled_at = clock.now_ms()
    answer = backend.cancel_execution(PROJECT, ex["id"], {"reason": "stop"})
    assert (answer["status"], answer["endTime"]) == ("TERMINATED", cancelled_at)
    assert status_of(backend, ex["id"]) == "TERMINATED"
    landed = cancelled_at + _delay(backend, 1, "cancel:0", REAL.cancel)

    _move_to(clock, landed - 1)
    assert {t["status"] for t in tasks_of(backend, ex["id"]).values()} == {"IN_PROGRESS"}
    _move_to(clock, landed)
    tasks = tasks_of(backend, ex["id"]).values()
    assert {(t["status"], t["endTime"]) for t in tasks} == {("CANCELED", landed)}
    assert detail(backend, ex["id"])["endTime"] == cancelled_at


def test_cancel_before_pickup_leaves_no_task() -> None:
    backend, clock = make_backend(pace="real")
    put_version(backend, [function_task("a")])
    ex = run(backend)
    assert backend.cancel_execution(PROJECT, ex["id"], {})["status"] == "TERMINATED"
    clock.advance(MINUTE)
    found = detail(backend, ex["id"])
    assert (found["status"], found["executedTasks"], "startTime" in found) == (
        "TERMINATED",
        [],
        False,
    )


def test_retry_answers_running_and_reruns_after_the_retry_delay() -> None:
    backend, clock = make_backend(pace="real")
    put_version(backend, [async_task("w")])
    ex = run(backend)
    _picked_up(backend, clock, ex, 1)
    backend.cancel_execution(PROJECT, ex["id"], {})
    clock.advance(MINUTE)
    retried_at = clock.now_ms()
    assert backend.retry_execution(PROJECT, ex["id"], NONCE)["status"] == "RUNNING"
    rerun = retried_at + _delay(backend, 1, "retry:0", REAL.retry)

    _move_to(clock, rerun - 1)
    assert status_of(backend, ex["id"]) == "RUNNING"
    assert tasks_of(backend, ex["id"])["w"]["status"] == "CANCELED"
    _move_to(clock, rerun)
    task = tasks_of(backend, ex["id"])["w"]
    assert (task["status"], task["startTime"]) == ("IN_PROGRESS", rerun)


def test_retry_inside_the_cancel_window_cancels_the_tasks_first() -> None:
    backend, clock = make_backend(pace="real")
    put_version(backend, [async_task("w")])
    ex = run(backend)
    _picked_up(backend, clock, ex, 1)
    backend.cancel_execution(PROJECT, ex["id"], {})
    retried_at = clock.now_ms()
    backend.retry_execution(PROJECT, ex["id"], NONCE)
    task = tasks_of(backend, ex["id"])["w"]
    assert (task["status"], task["endTime"]) == ("CANCELED", retried_at)
    clock.advance(REAL.retry[1])
    assert tasks_of(backend, ex["id"])["w"]["status"] == "IN_PROGRESS"
    # a second cancel/retry round draws its own delays
    backend.cancel_execution(PROJECT, ex["id"], {})
    landed = clock.now_ms() + _delay(backend, 1, "cancel:1", REAL.cancel)
    _move_to(clock, landed)
    assert tasks_of(backend, ex["id"])["w"]["status"] == "CANCELED"


# -- determinism -------------------------------------------------------------------------------


def _timeline(backend: WorkflowsBackend, clock: VirtualClock, noise: bool) -> list[Any]:
    """Offsets (from createdTime) of pickup and task ends of three executions."""
    put_version(backend, [cdf_task("c"), function_task("f", "c")])
    ids = []
    for _ in range(3):
        if noise:  # other projects and extra reads must not shift this project's draws
            definition = {"tasks": [cdf_task("c")]}
            item = {"workflowExternalId": "x", "version": "1", "workflowDefinition": definition}
            backend.upsert_version("other", item)
            backend.run_execution("other", "x", "1", NONCE)
            backend.list_executions(PROJECT, {})
            clock.advance(137)
        ids.append(run(backend)["id"])
    clock.advance(MINUTE)
    result = []
    for execution_id in ids:
        found = detail(backend, execution_id)
        ends = [t["endTime"] - found["createdTime"] for t in found["executedTasks"]]
        result.append((found["startTime"] - found["createdTime"], ends))
    return result


def test_the_k_th_execution_gets_the_same_delays_on_every_run() -> None:
    first = _timeline(*make_backend(pace="real", seed=42), noise=False)
    again = _timeline(*make_backend(pace="real", seed=42), noise=True)
    other_seed = _timeline(*make_backend(pace="real", seed=43), noise=False)
    assert first == again
    assert first != other_seed


def test_reset_starts_the_count_of_executions_again() -> None:
    backend, clock = make_backend(pace="real", seed=5)
    before = _timeline(backend, clock, noise=False)
    backend.reset()
    assert _timeline(backend, clock, noise=False) == before


# -- paced faults at the real pace -------------------------------------------------------------


def _waiting_real(*faults: str) -> tuple[WorkflowsBackend, VirtualClock, dict[str, Any]]:
    backend, clock = make_backend(*faults, pace="real")
    put_version(backend, [async_task("w"), function_task("after", "w")])
    ex = run(backend)
    _picked_up(backend, clock, ex, 1)
    return backend, clock, ex


def test_update_never_applied_keeps_the_task_in_progress_forever() -> None:
    for fault, expected in (((), "COMPLETED"), (("update_never_applied",), "IN_PROGRESS")):
        backend, clock, ex = _waiting_real(*fault)
        answer = update(backend, ex["id"], "w", "COMPLETED")
        assert answer["status"] == "COMPLETED"  # answered the same, with or without the fault
        clock.advance(REAL.update[1])
        assert tasks_of(backend, ex["id"])["w"]["status"] == expected
    clock.advance(10 * MINUTE)
    assert tasks_of(backend, ex["id"])["w"]["status"] == "IN_PROGRESS"
    assert status_of(backend, ex["id"]) == "RUNNING"


def test_cancel_tasks_stuck_keeps_tasks_in_progress_forever() -> None:
    for fault, expected in (((), "CANCELED"), (("cancel_tasks_stuck",), "IN_PROGRESS")):
        backend, clock, ex = _waiting_real(*fault)
        assert backend.cancel_execution(PROJECT, ex["id"], {})["status"] == "TERMINATED"
        clock.advance(REAL.cancel[0] - 1)  # inside the window both look the same
        assert tasks_of(backend, ex["id"])["w"]["status"] == "IN_PROGRESS"
        clock.advance(REAL.cancel[1])
        assert tasks_of(backend, ex["id"])["w"]["status"] == expected
    clock.advance(10 * MINUTE)
    assert tasks_of(backend, ex["id"])["w"]["status"] == "IN_PROGRESS"
    assert status_of(backend, ex["id"]) == "TERMINATED"


def test_cancel_tasks_stuck_freezes_what_cancel_leaves_tasks_running_lets_finish() -> None:
    outcomes = {}
    for fault in ("cancel_tasks_stuck", "cancel_leaves_tasks_running"):
        backend, clock = make_backend(fault, pace="real")
        put_version(backend, [function_task("f"), function_task("next", "f")])
        ex = run(backend)
        _picked_up(backend, clock, ex, 1)
        backend.cancel_execution(PROJECT, ex["id"], {})
        clock.advance(10 * MINUTE)
        tasks = tasks_of(backend, ex["id"])
        outcomes[fault] = (status_of(backend, ex["id"]), {x: t["status"] for x, t in tasks.items()})
    assert outcomes == {
        "cancel_tasks_stuck": ("TERMINATED", {"f": "IN_PROGRESS"}),
        "cancel_leaves_tasks_running": ("TERMINATED", {"f": "COMPLETED"}),  # nothing follows
    }


def test_retry_never_reruns_answers_running_and_reruns_nothing() -> None:
    for fault, expected in (((), "IN_PROGRESS"), (("retry_never_reruns",), "CANCELED")):
        backend, clock, ex = _waiting_real(*fault)
        backend.cancel_execution(PROJECT, ex["id"], {})
        clock.advance(MINUTE)
        assert backend.retry_execution(PROJECT, ex["id"], NONCE)["status"] == "RUNNING"
        clock.advance(REAL.retry[1])
        assert tasks_of(backend, ex["id"])["w"]["status"] == expected
    clock.advance(10 * MINUTE)
    assert status_of(backend, ex["id"]) == "RUNNING"
    assert tasks_of(backend, ex["id"])["w"]["status"] == "CANCELED"
    clock.advance(24 * 60 * MINUTE)
    assert status_of(backend, ex["id"]) == "TIMED_OUT"


def test_retry_never_reruns_starts_nothing_after_a_cancel_before_pickup() -> None:
    backend, clock = make_backend("retry_never_reruns", pace="real")
    put_version(backend, [function_task("a")])
    ex = run(backend)
    backend.cancel_execution(PROJECT, ex["id"], {})
    backend.retry_execution(PROJECT, ex["id"], NONCE)
    clock.advance(10 * MINUTE)
    assert detail(backend, ex["id"])["executedTasks"] == []


# -- cdf tasks outside the Workflows API -------------------------------------------------------


def _cdf(xid: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    request: dict[str, Any] = {"resourcePath": path, "method": method}
    if body is not None:
        request["body"] = body
    return {"externalId": xid, "type": "cdf", "parameters": {"cdfRequest": request}}


OUTSIDE = [
    _cdf("ts", "GET", "/timeseries"),
    _cdf("assets", "POST", "/assets/list", {"limit": 10}),
    _cdf("points", "POST", "/timeseries/data/latest", {"items": [{"id": 1}]}),
]


def test_cdf_tasks_calling_other_cdf_resources_succeed_in_the_domain() -> None:
    backend, _ = make_backend()
    put_version(backend, OUTSIDE)
    ex = run(backend)
    assert status_of(backend, ex["id"]) == "COMPLETED"
    for task in tasks_of(backend, ex["id"]).values():
        assert task["output"] == {"response": {"items": []}, "statusCode": 200}


def test_cdf_tasks_calling_other_cdf_resources_succeed_through_the_dispatcher() -> None:
    mock = embedded_mock(pace="real", seed=3)
    client = httpx.Client(
        transport=mock.transport(),
        base_url="http://mock/api/v1/projects/p",
        headers={"authorization": f"Bearer {LOCAL_TOKEN}"},
    )
    version = {"workflowExternalId": "wf", "version": "1", "workflowDefinition": {"tasks": OUTSIDE}}
    assert client.post("/workflows/versions", json={"items": [version]}).status_code == 200
    started = client.post("/workflows/wf/versions/1/run", json=NONCE)
    assert started.status_code == 202
    mock.advance(MINUTE)
    found = client.get(f"/workflows/executions/{started.json()['id']}").json()
    assert found["status"] == "COMPLETED"
    assert {t["output"]["statusCode"] for t in found["executedTasks"]} == {200}
    # and a cdf task's own Workflows API calls still go to the mock's routes
    failing = {**version, "workflowDefinition": {"tasks": [cdf_task("c", ok=False, retries=0)]}}
    client.post("/workflows/versions", json={"items": [failing]})
    ex = client.post("/workflows/wf/versions/1/run", json=NONCE).json()
    mock.advance(MINUTE)
    assert client.get(f"/workflows/executions/{ex['id']}").json()["status"] == "FAILED"


# -- the service: response latency -------------------------------------------------------------


def _api_request() -> MockRequest:
    return MockRequest("GET", "/api/v1/projects/p/workflows")


def test_response_latency_is_not_slept_on_a_virtual_clock() -> None:
    mock = embedded_mock(pace="real")
    assert mock.response_delay_s(_api_request()) == 0.0
    started = time.perf_counter()
    mock.handle(
        MockRequest(
            "GET",
            "/api/v1/projects/p/workflows",
            headers={"authorization": f"Bearer {LOCAL_TOKEN}"},
        )
    )
    assert time.perf_counter() - started < 0.06


def test_response_latency_on_the_real_clock_is_jittered_and_seeded() -> None:
    real, same = MockService(pace="real", seed=9), MockService(pace="real", seed=9)
    delays = [real.response_delay_s(_api_request()) for _ in range(40)]
    assert delays == [same.response_delay_s(_api_request()) for _ in range(40)]
    assert all(0.06 <= d <= 0.12 for d in delays) and len(set(delays)) > 10
    assert real.response_delay_s(MockRequest("GET", "/_mock/clock")) == 0.0
    assert MockService().response_delay_s(_api_request()) == 0.0  # instant by default
    fast = MockService(pace="fast")
    assert all(0.006 <= fast.response_delay_s(_api_request()) <= 0.012 for _ in range(20))
    real.reset()
    assert [real.response_delay_s(_api_request()) for _ in range(40)] == delays


def test_respond_returns_the_latency_instead_of_sleeping() -> None:
    mock = MockService(pace="real", tokens=["t"])
    request = MockRequest(
        "GET", "/api/v1/projects/p/workflows", headers={"authorization": "Bearer t"}
    )
    started = time.perf_counter()
    response, delay = mock.respond(request)
    assert response.status == 200 and 0.06 <= delay <= 0.12
    assert time.perf_counter() - started < 0.06
    started = time.perf_counter()
    assert mock.handle(request).status == 200
    assert time.perf_counter() - started >= 0.06  # handle() sleeps it


# -- any interleaving settles ------------------------------------------------------------------

_OPS = st.lists(
    st.tuples(
        st.sampled_from(["run", "cancel", "retry", "complete", "fail", "advance"]),
        st.integers(0, 3),  # which execution
        st.integers(0, 2_500),  # ms to advance
    ),
    max_size=40,
)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(pace=st.sampled_from(["real", "fast", "instant"]), ops=_OPS)
def test_any_interleaving_settles_consistently(pace: str, ops: list[tuple[str, int, int]]) -> None:
    backend, clock = make_backend(pace=pace)
    put_version(
        backend,
        [cdf_task("c", retries=1), async_task("w", "c", retries=1), function_task("f", "w")],
    )
    ids: list[str] = []
    for op, which, ms in ops:
        try:
            if op == "run" or not ids:
                ids.append(run(backend)["id"])
            elif op == "advance":
                clock.advance(ms)
            elif op == "cancel":
                backend.cancel_execution(PROJECT, ids[which % len(ids)], {})
            elif op == "retry":
                backend.retry_execution(PROJECT, ids[which % len(ids)], NONCE)
            else:
                status = "COMPLETED" if op == "complete" else "FAILED"
                update(backend, ids[which % len(ids)], "w", status)
        except (DomainError, KeyError):
            pass  # refused (409/400) or the task is not reached yet
    clock.advance(10 * MINUTE)  # every window has passed
    assert _listed(backend) == set(ids)
    for execution_id in ids:
        found = detail(backend, execution_id)
        statuses = {t["status"] for t in found["executedTasks"]}
        if found["status"] == "RUNNING":
            assert "startTime" in found and statuses <= {"IN_PROGRESS", "COMPLETED"}
            assert "IN_PROGRESS" in statuses  # only the waiting task holds it up
        else:
            assert not statuses & {"IN_PROGRESS", "SCHEDULED"}, (found["status"], statuses)
        if found["status"] == "COMPLETED":
            assert statuses == {"COMPLETED"} and len(found["executedTasks"]) == 3
