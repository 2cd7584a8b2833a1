"""A realistic summary.json: passes, a critical failure, a minor one, skips, partial lifecycle."""

from __future__ import annotations

import copy
from typing import Any

import pytest

SECRET_TOKEN = "wfc-SECRET-9f3b2a7c"

_RUN_OPS = ("runWorkflow", "retrieveExecution", "cancelExecution", "retryExecution")
_CHECKS = ("status_code_documented", "response_schema_conformance", "error_envelope")


def _check(suite: str, operation: str, check: str, outcome: str, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "suite": suite,
        "operation": operation,
        "check": check,
        "outcome": outcome,
        "severity": extra.pop("severity", "major"),
        "message": extra.pop("message", ""),
        "nodeid": f"suites/{suite}/test_{operation}.py::test_{check}",
        "durationSeconds": extra.pop("durationSeconds", 0.05),
        "reproduction": None,
        "request": None,
        "response": None,
    }
    entry.update(extra)
    return entry


def _passing_checks() -> list[dict[str, Any]]:
    checks = [_check("contract", op, name, "passed") for op in _RUN_OPS for name in _CHECKS]
    checks.append(_check("lifecycle", "cancelExecution", "lifecycle_oracle", "passed"))
    checks.append(_check("lifecycle", "retryExecution", "lifecycle_oracle", "passed"))
    checks.append(_check("fuzz", "listExecutions", "negative_data_rejection", "passed"))
    return checks


def _failing_checks() -> list[dict[str, Any]]:
    critical = _check(
        "contract",
        "cancelExecution",
        "cancel_reason_max_length",
        "failed",
        severity="critical",
        message=(
            "cancelExecution accepted a 501-character reason <script>alert(1)</script>\n"
            "Received: 200 / Documented: 400"
        ),
        reproduction=(
            "curl -X POST -H 'Authorization: Bearer ***' "
            "'http://127.0.0.1:8000/api/v1/projects/demo/workflows/executions/"
            '3f1c7a52-2b7e-4d8c-9f0a-0b1c2d3e4f50/cancel\' -d \'{"reason": "xxxx"}\''
        ),
        request='POST /workflows/executions/3f1c7a52-.../cancel\n{"reason": "<b>x</b>"}',
        response='200 OK\n{"id": "3f1c7a52-2b7e-4d8c-9f0a-0b1c2d3e4f50", "status": "TERMINATED"}',
    )
    minor = _check(
        "contract",
        "listExecutions",
        "x_request_id_present",
        "failed",
        severity="minor",
        message="response has no x-request-id header",
    )
    return [critical, minor]


def _skipped_checks() -> list[dict[str, Any]]:
    return [
        _check(
            "lifecycle",
            "runWorkflow",
            "timeout_to_timed_out",
            "skipped",
            message="mock_only: skipped on a live target",
        ),
        _check("fuzz", "updateTask", "negative_data_rejection", "skipped"),
    ]


def _transitions() -> dict[str, Any]:
    return {
        "legal": [
            {"from": None, "operation": "run", "to": "RUNNING", "exercised": 9, "failed": 0},
            {
                "from": "RUNNING",
                "operation": "complete",
                "to": "COMPLETED",
                "exercised": 4,
                "failed": 0,
            },
            {"from": "RUNNING", "operation": "fail", "to": "FAILED", "exercised": 2, "failed": 0},
            {
                "from": "RUNNING",
                "operation": "cancel",
                "to": "TERMINATED",
                "exercised": 3,
                "failed": 1,
            },
            {
                "from": "TERMINATED",
                "operation": "retry",
                "to": "RUNNING",
                "exercised": 1,
                "failed": 0,
            },
            {"from": "FAILED", "operation": "retry", "to": "RUNNING", "exercised": 1, "failed": 0},
        ],
        "illegal": [
            {"from": "COMPLETED", "operation": "cancel", "exercised": 2, "failed": 0},
            {"from": "TERMINATED", "operation": "cancel", "exercised": 1, "failed": 1},
            {"from": "RUNNING", "operation": "retry", "exercised": 1, "failed": 0},
        ],
    }


def build_summary() -> dict[str, Any]:
    """A summary as the engine writes it (before the gate is added)."""
    checks = [*_passing_checks(), *_failing_checks(), *_skipped_checks()]
    outcomes = [check["outcome"] for check in checks]
    return {
        "schema": "wfcontracts.summary/1",
        "target": {
            "kind": "live",
            "baseUrl": f"https://alice:{SECRET_TOKEN}@api.example.test:8443/base?token={SECRET_TOKEN}",
            "project": "demo",
        },
        "contract": {"path": "contracts/cdf-workflows.openapi.yaml", "sha256": "ab" * 32},
        "versions": {
            "wfcontracts": "0.1.0",
            "schemathesis": "4.3.2",
            "cognite-sdk": None,
            "python": "3.11.7",
        },
        "startedAt": "2026-11-23T12:00:00+00:00",
        "durationSeconds": 41.25,
        "seed": 1234,
        "suites": ["contract", "lifecycle", "fuzz"],
        "totals": {
            "passed": outcomes.count("passed"),
            "failed": outcomes.count("failed"),
            "skipped": outcomes.count("skipped"),
            "errors": outcomes.count("error"),
        },
        "checks": checks,
        "transitions": _transitions(),
    }


@pytest.fixture
def summary() -> dict[str, Any]:
    """A fresh copy of the realistic summary for each test."""
    return copy.deepcopy(build_summary())


@pytest.fixture
def secret_token() -> str:
    """A recognisable secret planted in the fixture summary's base URL."""
    return SECRET_TOKEN
