"""Load and validate the OpenAPI contract; expose operations, schemas and vendor keywords."""

from __future__ import annotations

from wfcontracts.contract.loader import ContractError, default_contract_path
from wfcontracts.contract.model import (
    ByteLimit,
    Contract,
    Operation,
    Parameter,
    Violation,
    compact_json_size,
    load_contract,
)

__all__ = [
    "ByteLimit",
    "Contract",
    "ContractError",
    "Operation",
    "Parameter",
    "Violation",
    "compact_json_size",
    "default_contract_path",
    "load_contract",
]
