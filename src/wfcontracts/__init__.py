"""wfcontracts: a contract verification harness for the CDF Workflows executions API."""

from __future__ import annotations

from wfcontracts.errors import WfcontractsError

__version__ = "0.1.0"

__all__ = ["WfcontractsError", "__version__"]
