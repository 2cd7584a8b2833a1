"""Stateless fuzzing of every contract operation: schemathesis' generation and checks, plus ours.

Positive and negative data (examples, coverage boundaries and fuzzing phases); every response
is judged by all schemathesis checks and by the wfcontracts check registry.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis

from wfcontracts.fuzzing.runner import Fuzz, prepared

schema = prepared().schema

pytestmark = [pytest.mark.live_safe, pytest.mark.check("fuzz_stateless")]


@schema.parametrize()  # type: ignore[untyped-decorator, unused-ignore]
def test_operation(
    case: schemathesis.Case[Any], fuzz: Fuzz, request: pytest.FixtureRequest
) -> None:
    fuzz.check_case(case, request.node.name)
