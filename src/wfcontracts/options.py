"""The run's flags, declared once for both adapters (`wfcontracts verify` and `pytest suites`).

A :class:`Flag` is the arguments of one ``add_argument`` call; the CLI hands them to argparse,
the pytest plugin to ``parser.getgroup(...).addoption`` (the same signature). Each flag's
``dest`` is the :class:`~wfcontracts.runtime.RunOptions` field it fills, so one function turns
either adapter's namespace into options. Invalid values are refused by the flag's type: a usage
error naming the flag, before any work.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ASYNC_FUNCTION = "wfcontracts-async-noop"
DEFAULT_MAX_EXAMPLES = 25
DEFAULT_DEADLINE_S = 60.0
#: Seconds of fuzzing on a live target by default: a remote API answers in ~100 ms and is
#: rate-bounded, so an unbounded campaign would take many minutes (the mock: no bound).
DEFAULT_LIVE_FUZZ_SECONDS = 30.0
RECORD_MODES = ("none", "once", "new_episodes", "all")
#: The product's suites, in the order they run; replay runs only the offline ones.
SUITES = ("contract", "lifecycle", "fuzz", "compat")
OFFLINE_SUITES = ("lifecycle", "compat")
#: The mock's legitimate-server profiles (wfcontracts.mock.profiles has what each answers).
PROFILES = ("strict", "lenient", "alternative")


def positive_int(text: str) -> int:
    """An int >= 1 (a budget of 0 examples would run nothing and report it as passed)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def job_count(text: str) -> int:
    """A number of parallel workers: an int >= 1, or ``auto`` (one per CPU)."""
    if text == "auto":
        return os.cpu_count() or 1
    return positive_int(text)


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


@dataclass(frozen=True)
class Flag:
    """One option: its names and the keyword arguments of ``add_argument`` / ``addoption``."""

    names: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def add_to(self, add: Callable[..., Any], **overrides: Any) -> None:
        add(*self.names, **{**self.kwargs, **overrides})


#: Where the target is and how to reach it: shared by verify, record and the plugin.
TARGET_FLAGS: tuple[Flag, ...] = (
    Flag(
        ("--base-url",),
        {
            "dest": "base_url",
            "default": None,
            "help": "live target, e.g. https://<cluster>.cognitedata.com (optionally with "
            "/api/v1/projects/<project>); default: the embedded mock; env CDF_URL / CDF_CLUSTER",
        },
    ),
    Flag(
        ("--project",),
        {"dest": "project", "default": None, "help": "CDF project (env CDF_PROJECT)"},
    ),
    Flag(
        ("--token",),
        {
            "dest": "token",
            "default": None,
            "help": "bearer token (env CDF_TOKEN; or IDP_CLIENT_ID, IDP_CLIENT_SECRET, "
            "IDP_TOKEN_URL, IDP_SCOPES for OAuth client credentials)",
        },
    ),
    Flag(
        ("--async-function-external-id",),
        {
            "dest": "async_function_external_id",
            "default": DEFAULT_ASYNC_FUNCTION,
            "help": "function external id used by probe workflows' waiting tasks "
            f"(default {DEFAULT_ASYNC_FUNCTION})",
        },
    ),
    Flag(
        ("--max-rps",),
        {
            "dest": "max_requests_per_second",
            "type": non_negative_float,
            "default": None,
            "help": "requests/s against the target, fuzzing included (default 10 on "
            "non-loopback hosts, unbounded on loopback; 0: unbounded)",
        },
    ),
)

#: What a verify run does: shared by verify and the plugin.
RUN_FLAGS: tuple[Flag, ...] = (
    Flag(
        ("--max-examples",),
        {
            "dest": "max_examples",
            "type": positive_int,
            "default": DEFAULT_MAX_EXAMPLES,
            "help": f"fuzzing budget per operation (default {DEFAULT_MAX_EXAMPLES})",
        },
    ),
    Flag(
        ("--seed",),
        {
            "dest": "seed",
            "type": int,
            "default": None,
            "help": "seed for generated data and fuzzing (default: drawn at random, printed "
            "and stored in the reports)",
        },
    ),
    Flag(
        ("--replay",),
        {
            "dest": "replay",
            "action": "store_true",
            "default": False,
            "help": "run the recorded cassettes offline (./cassettes when present, else the "
            "shipped ones)",
        },
    ),
    Flag(
        ("--fault",),
        {
            "dest": "faults",
            "action": "append",
            "default": [],
            "help": "switch on a named fault of the embedded mock (repeatable; self-tests)",
        },
    ),
    Flag(
        ("--profile",),
        {
            "dest": "profile",
            "choices": PROFILES,
            "default": "strict",
            "help": "the embedded mock's profile where the docs are silent: strict, lenient "
            "(validates only documented rules) or alternative (the other legitimate answer for "
            "every pick) (default strict; serve another target with `mock serve --profile`)",
        },
    ),
    Flag(
        ("--read-only-token",),
        {
            "dest": "read_only_token",
            "default": os.environ.get("CDF_READ_ONLY_TOKEN"),
            "help": "a READ-only token: writes must be refused with 401/403 "
            "(env CDF_READ_ONLY_TOKEN; default: none, the probe is skipped on live targets)",
        },
    ),
    Flag(
        ("--contract",),
        {
            "dest": "contract_path",
            "type": Path,
            "default": None,
            "help": "contract file (default: ./contracts/cdf-workflows.openapi.yaml when present, "
            "else the shipped contract; env WFCONTRACTS_CONTRACT)",
        },
    ),
    Flag(
        ("--cassettes",),
        {
            "dest": "cassettes_dir",
            "type": Path,
            "default": None,
            "help": "cassette directory: --replay reads it, recording writes it (default "
            "./cassettes; --replay without it falls back to the shipped cassettes)",
        },
    ),
    Flag(
        ("--fuzz-seconds",),
        {
            "dest": "fuzz_seconds",
            "type": positive_float,
            "default": None,
            "help": "wall-clock budget of the fuzz suite, shared evenly by its tests (default: "
            f"{DEFAULT_LIVE_FUZZ_SECONDS:g} on live targets, unbounded on the embedded mock)",
        },
    ),
    Flag(
        ("--deadline",),
        {
            "dest": "deadline_s",
            "type": positive_float,
            "default": DEFAULT_DEADLINE_S,
            "help": "seconds a scenario waits for its write to become visible on the target "
            f"(default {DEFAULT_DEADLINE_S:g})",
        },
    ),
)

#: VCR record mode (the plugin and `wfcontracts record`).
RECORD_FLAG = Flag(
    ("--record-mode",),
    {
        "dest": "record_mode",
        "default": "none",
        "choices": RECORD_MODES,
        "help": "vcr record mode for the lifecycle cassettes (default: none)",
    },
)


def add_flags(add: Callable[..., Any], flags: Iterable[Flag]) -> None:
    """Declare `flags` through `add` (``ArgumentParser.add_argument`` or pytest's ``addoption``)."""
    for flag in flags:
        flag.add_to(add)


#: Where reports go and what fails the gate: `verify` and `report`.
REPORT_FLAGS: tuple[Flag, ...] = (
    Flag(
        ("--report-dir",),
        {
            "dest": "report_dir",
            "type": Path,
            "default": Path("reports"),
            "help": "where the reports are (junit.xml, summary.json, allure-results/, "
            "index.html; default reports/)",
        },
    ),
    Flag(
        ("--fail-on",),
        {
            "dest": "fail_on",
            "default": "critical,major",
            "help": "severities that fail the gate (default critical,major; add minor to gate "
            "on advisories)",
        },
    ),
    Flag(
        ("--history",),
        {
            "dest": "history",
            "type": Path,
            "default": None,
            "help": "directory of previous summaries for the trend (default: none)",
        },
    ),
)
