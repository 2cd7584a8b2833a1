"""target: which server a run talks to, how it authenticates, and how it survives a flaky one.

The errors live here, not in the modules that raise them, so ``auth``, ``retry`` and ``client``
can share them without importing each other. Every one is a :class:`WfcontractsError`: an
environment problem (exit code 2), never a contract finding.
"""

from __future__ import annotations

from typing import Any

from wfcontracts.errors import WfcontractsError

__all__ = [
    "CredentialsError",
    "ProjectNotFoundError",
    "RetriesExhaustedError",
    "TargetUnreachableError",
    "TokenRevokedError",
    "WriteOutcomeUnknownError",
]


class TargetUnreachableError(WfcontractsError):
    """The target cannot be reached, or does not answer like a CDF API."""


class ProjectNotFoundError(TargetUnreachableError):
    """The target answers, but not for this project."""


class RetriesExhaustedError(TargetUnreachableError):
    """A request failed at the transport level and the retry policy gave up (or may not resend).

    ``what`` says which request and why (one line, no secret); ``retries`` is how many times it
    was resent before giving up (0 when the policy forbids resending, e.g. a dropped write).
    """

    def __init__(self, what: str, retries: int) -> None:
        super().__init__(f"target unreachable after {retries} retries: {what}")
        self.what = what
        self.retries = retries

    def __reduce__(self) -> tuple[type[RetriesExhaustedError], tuple[str, int]]:
        # The default pickles the message as the only argument, which __init__ does not take.
        return type(self), (self.what, self.retries)


class WriteOutcomeUnknownError(RetriesExhaustedError):
    """A write reached the wire, its answer was lost, and resending could not settle it.

    Either the policy may not resend it (a run, a retry, a session, a FAILED task report: a
    second copy could act twice), or it was resent and the resend was refused in a way the
    first copy may have caused (a 409 to a second cancel). Whether the target acted is unknown,
    so the exchange judges nothing: the one test or fuzz case that sent it is *inconclusive*,
    not a verdict and not a reason to stop the run (the next request shows whether the target
    is still there). It still is a :class:`RetriesExhaustedError`, so code that does not know
    the difference treats it as an environment error (exit 2), never as a pass.
    """

    def __init__(self, what: str, retries: int, *, resent: bool = False) -> None:
        super().__init__(what, retries)
        self.resent = resent  # True: it was resent and the resend's answer proves nothing
        if resent:
            # The target did answer (the resend): "unreachable" would be wrong here.
            self.args = (f"write outcome unknown: {what}",)

    def __reduce__(self) -> tuple[Any, ...]:
        return _outcome_unknown, (self.what, self.retries, self.resent)


def _outcome_unknown(what: str, retries: int, resent: bool) -> WriteOutcomeUnknownError:
    return WriteOutcomeUnknownError(what, retries, resent=resent)


class CredentialsError(WfcontractsError):
    """The target rejected the credentials (401) or they lack the needed access (403)."""


class TokenRevokedError(CredentialsError):
    """A fixed token that passed the preflight was rejected later in the run."""

    def __init__(self) -> None:
        super().__init__("token expired or revoked (401 after a good preflight)")

    def __reduce__(self) -> tuple[type[TokenRevokedError], tuple[()]]:
        return type(self), ()
