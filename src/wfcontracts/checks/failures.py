"""What a failed check carries: operation, check name, seen vs allowed, how to reproduce."""

from __future__ import annotations

from typing import Literal

Severity = Literal["critical", "major", "minor"]


class CheckFailure(AssertionError):
    """A check found the target violating the contract.

    The message contrasts what was seen with what the contract allows; `reproduction` is a curl
    line with secrets masked.
    """

    def __init__(
        self,
        *,
        check: str,
        operation: str,
        seen: str,
        allowed: str,
        severity: Severity = "major",
        reproduction: str | None = None,
    ) -> None:
        self.check = check
        self.operation = operation
        self.seen = seen
        self.allowed = allowed
        self.severity: Severity = severity
        self.reproduction = reproduction
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"[{self.check}] {self.operation}: {self.seen} — contract: {self.allowed}"

    def __str__(self) -> str:
        if self.reproduction:
            return f"{self.message}\n  reproduce: {self.reproduction}"
        return self.message


#: The attribute of a failure (e.g. a fuzz finding) holding how to reproduce it: seed, curl
#: line, cassette path and replay command, for summary.json and the HTML card.
REPRODUCTION_ATTRIBUTE = "wfcontracts_reproduction"
