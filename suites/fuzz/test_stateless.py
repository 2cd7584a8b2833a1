"""Stateless fuzzing of every contract operation: schemathesis' generation and checks, plus ours.

Positive and negative data (examples, coverage boundaries and fuzzing phases); every response
is judged by all schemathesis checks and by the wfcontracts check registry. One test item per
operation, named by its method and path and marked with its operation id; the schemathesis
test behind each is built when the item runs, so collecting generates nothing.
"""

from __future__ import annotations

import pytest

from wfcontracts.contract import load_contract
from wfcontracts.fuzzing.runner import Fuzz

pytestmark = [pytest.mark.live_safe, pytest.mark.check("fuzz_stateless")]

OPERATIONS = [
    pytest.param(op.operation_id, id=op.label, marks=pytest.mark.operation(op.operation_id))
    for op in load_contract().operations.values()
]


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_operation(operation_id: str, fuzz: Fuzz, request: pytest.FixtureRequest) -> None:
    fuzz.start_budget(share=len(OPERATIONS) + 1)  # and the stateful walk
    fuzz.fuzz_operation(operation_id, request.node.name)
