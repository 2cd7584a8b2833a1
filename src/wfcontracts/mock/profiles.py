"""Profiles: which legitimate server the mock is, where the documentation leaves a choice.

The executions-API documentation leaves many answers open (README, "Choices where the
documentation is silent"). A suite that judges only what is documented must pass on every
server that answers them differently, so the mock can be each of three such servers:

- ``strict`` (the default): validates the whole contract, inferred constraints included, and
  makes the picks the README lists (chosen to match what the Python SDK expects);
- ``lenient``: validates only what the docs state (the contract's documented view) and accepts
  the rest, processing what it can and refusing with a 400 what it cannot;
- ``alternative``: validates the whole contract and takes the *other* legitimate answer for
  every one of those picks.

A profile is plain data (standard library only): the domain (backend, engine) and the HTTP
layer read their choices from it, so a new pick is one field here plus where it is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from wfcontracts.errors import WfcontractsError

__all__ = [
    "ALTERNATIVE",
    "LENIENT",
    "PROFILES",
    "STRICT",
    "Profile",
    "UnknownProfileError",
    "get_profile",
]


@dataclass(frozen=True, slots=True)
class Profile:
    """One legitimate server: every field is a choice the documentation leaves open."""

    name: str
    description: str

    # -- validation --------------------------------------------------------------------------
    #: Validate requests against the documented view only (what the docs state).
    documented_only: bool = False

    # -- errors and HTTP ---------------------------------------------------------------------
    #: Successful responses carry ``x-request-id`` too (the contract requires it on errors).
    request_id_on_success: bool = True
    #: ``x-request-id`` is a UUIDv4 instead of ``wfc-<hex>``.
    request_id_uuid: bool = False
    #: The error envelope carries ``missing`` / ``duplicated`` lists where they apply.
    error_details: bool = True
    #: GET of an unknown (well-formed) execution id.
    unknown_execution_status: int = 400
    #: Task update of an unknown task id (cancel / retry of an unknown id: 404, documented).
    unknown_task_status: int = 404
    #: Run of an unknown workflow or version.
    unknown_version_status: int = 404
    #: Cancel of a non-RUNNING execution; retry of a RUNNING or COMPLETED one.
    illegal_transition_status: int = 409
    #: Task update of a task that is not async, not IN_PROGRESS, or already reported.
    task_not_updatable_status: int = 400
    #: Delete of a workflow while one of its executions is RUNNING.
    delete_running_status: int = 409
    #: Deleting a workflow leaves its (finished) executions retrievable and listed.
    delete_keeps_executions: bool = False
    #: A contract path with a method it does not declare (405 comes with ``allow``).
    undeclared_method_status: int = 405
    #: A body over 10 MB, raw or after gunzip.
    body_too_large_status: int = 413
    #: A content type other than JSON.
    unsupported_media_status: int = 415
    #: JSON nested deeper than this is refused with 400.
    max_json_depth: int = 100

    # -- auth --------------------------------------------------------------------------------
    #: A write with a read-only token.
    read_only_write_status: int = 403
    #: Run and retry take only a nonce POST /sessions issued in the same project, once each.
    nonces_from_sessions: bool = False

    # -- executions and tasks ----------------------------------------------------------------
    #: The 202 of a run already carries ``startTime`` (at every pace).
    start_time_in_run_answer: bool = False
    #: ``reasonForIncompletion`` of a cancel that gave no reason.
    default_cancel_reason: str = "cancelled"
    #: Every further attempt of a task (its own retries, an execution retry's re-run) is a new
    #: task execution with a new id, appended; the old one keeps its final status.
    appended_attempts: bool = False
    #: What a ``cdf`` task calling a resource outside the Workflows API gets: 200 with
    #: ``{"items": []}`` (an empty project) or 403 (its session has no access; the attempt fails).
    cdf_outside_api_status: int = 200
    #: A run beyond the workflow's ``maxConcurrentExecutions`` RUNNING executions is refused
    #: with 409 (the project limit stays unenforced: see the README).
    enforce_max_concurrent: bool = False

    # -- lists and cursors -------------------------------------------------------------------
    #: Executions oldest first (createdTime ascending) instead of newest first.
    executions_oldest_first: bool = False
    #: Workflows and versions by external id descending instead of ascending.
    definitions_descending: bool = False
    #: ``createdTimeEnd`` excludes its bound (``createdTimeStart`` includes it either way).
    created_time_end_exclusive: bool = False
    #: ``limit`` of executions/list and GET /workflows when none is sent (versions/list: 100,
    #: documented).
    default_list_limit: int = 100
    #: The last page says ``"nextCursor": null`` instead of leaving it out.
    null_next_cursor: bool = False
    #: A cursor reused with another filter is refused (400); otherwise its position applies to
    #: the new filter.
    cursor_bound_to_filter: bool = True


STRICT = Profile(
    "strict",
    "the whole contract validated; the picks the README lists where the docs are silent",
)

LENIENT = Profile(
    "lenient",
    "only documented rules validated (the contract's documented view); the rest accepted "
    "where it can be processed, else 400",
    documented_only=True,
)

ALTERNATIVE = Profile(
    "alternative",
    "the whole contract validated; the other legitimate answer for every pick",
    request_id_on_success=False,
    request_id_uuid=True,
    error_details=False,
    unknown_execution_status=404,
    unknown_task_status=400,
    unknown_version_status=400,
    illegal_transition_status=400,
    task_not_updatable_status=409,
    delete_running_status=400,
    delete_keeps_executions=True,
    undeclared_method_status=404,
    body_too_large_status=400,
    unsupported_media_status=400,
    max_json_depth=64,
    read_only_write_status=401,
    nonces_from_sessions=True,
    start_time_in_run_answer=True,
    default_cancel_reason="Workflow execution terminated on request",
    appended_attempts=True,
    cdf_outside_api_status=403,
    enforce_max_concurrent=True,
    executions_oldest_first=True,
    definitions_descending=True,
    created_time_end_exclusive=True,
    default_list_limit=25,
    null_next_cursor=True,
    cursor_bound_to_filter=False,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (STRICT, LENIENT, ALTERNATIVE)}


class UnknownProfileError(WfcontractsError, ValueError):
    """A profile name that is not one of :data:`PROFILES`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")


def get_profile(profile: str | Profile) -> Profile:
    """The profile named ``profile`` (a :class:`Profile` is returned as it is)."""
    if isinstance(profile, Profile):
        return profile
    found = PROFILES.get(profile)
    if found is None:
        raise UnknownProfileError(profile)
    return found
