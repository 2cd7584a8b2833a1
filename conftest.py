"""Root wiring only: the wfcontracts pytest plugin (entry point `wfcontracts`) provides options,
markers and fixtures; suites/ are the product's suites, tests/ the harness's own tests."""

from __future__ import annotations

collect_ignore_glob = ["reports/*", "bench/*"]
