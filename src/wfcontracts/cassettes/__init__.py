"""cassettes."""

from __future__ import annotations
