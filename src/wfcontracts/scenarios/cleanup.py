"""Deleting what a run created on a live target: every workflow named with the run prefix.

Runs at the end of a session, also after failures and Ctrl-C (pytest finalizers); it cancels
the prefix's running executions first because CDF refuses to delete workflows that have them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from wfcontracts.runtime import Runtime

log = logging.getLogger("wfcontracts.cleanup")


def delete_run_resources(runtime: Runtime, attempts: int = 5) -> list[str]:
    """Delete the run's workflows (and so their versions); returns the external ids deleted."""
    client = runtime.client
    try:
        names = [xid for xid in _workflow_ids(client) if xid.startswith(runtime.run_prefix)]
        for xid in names:
            _cancel_running(client, xid)
            _delete(client, xid, attempts)
    except httpx.HTTPError as exc:
        log.warning("cleanup of %s-* incomplete: %s", runtime.run_prefix, type(exc).__name__)
        return []
    return names


def _workflow_ids(client: httpx.Client) -> Iterator[str]:
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        body = client.get("workflows", params=params).json()
        for item in body.get("items", []):
            yield item["externalId"]
        cursor = body.get("nextCursor")
        if not cursor:
            return


def _cancel_running(client: httpx.Client, xid: str) -> None:
    body = {
        "filter": {"workflowFilters": [{"externalId": xid}], "status": ["RUNNING"]},
        "limit": 100,
    }
    response = client.post("workflows/executions/list", json=body)
    if response.status_code != 200:
        return
    for execution in response.json().get("items", []):
        client.post(
            f"workflows/executions/{execution['id']}/cancel",
            json={"reason": "wfcontracts cleanup"},
        )


def _delete(client: httpx.Client, xid: str, attempts: int) -> None:
    for attempt in range(attempts):
        response = client.post(
            "workflows/delete",
            params={"ignoreUnknownIds": "true"},
            json={"items": [{"externalId": xid}]},
        )
        if response.status_code < 400:
            return
        time.sleep(min(2**attempt * 0.5, 8))
    log.warning("could not delete workflow %s", xid)
