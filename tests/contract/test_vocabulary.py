"""The named operation ids and statuses are the contract's own: an edit cannot leave a copy."""

from __future__ import annotations

from wfcontracts.contract import load_contract
from wfcontracts.contract import operations as ops
from wfcontracts.contract import vocabulary as vocab


def test_every_operation_is_named_once() -> None:
    contract = load_contract()
    assert sorted(ops.ALL) == sorted(contract.operations)
    assert len(set(ops.ALL)) == len(ops.ALL)


def test_statuses_are_the_contract_enums() -> None:
    schemas = load_contract().document["components"]["schemas"]
    assert list(vocab.EXECUTION_STATUSES) == schemas["ExecutionStatus"]["enum"]
    assert list(vocab.TASK_STATUSES) == schemas["TaskStatus"]["enum"]
    assert vocab.TERMINAL_EXECUTION_STATUSES == set(vocab.EXECUTION_STATUSES) - {"RUNNING"}
    assert vocab.RETRIABLE_EXECUTION_STATUSES < vocab.TERMINAL_EXECUTION_STATUSES
    for group in (vocab.ACTIVE_TASK_STATUSES, vocab.RETRIED_TASK_STATUSES):
        assert group <= set(vocab.TASK_STATUSES)
    assert set(vocab.TASK_UPDATE_STATUSES) <= set(vocab.TASK_STATUSES)


def test_the_profile_flag_names_every_mock_profile() -> None:
    from wfcontracts.mock.profiles import PROFILES
    from wfcontracts.options import PROFILES as FLAG_CHOICES

    assert FLAG_CHOICES == tuple(PROFILES)
