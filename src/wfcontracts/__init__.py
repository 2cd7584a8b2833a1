"""wfcontracts: a contract verification harness for the CDF Workflows executions API."""

from __future__ import annotations

from wfcontracts.errors import WfcontractsError

# The one place the version is written: the build reads it from here ([tool.hatch.version]).
__version__ = "0.1.0"

__all__ = ["WfcontractsError", "__version__"]
