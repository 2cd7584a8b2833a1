"""Errors that end a command with exit code 2: usage or environment problems, never a verdict."""

from __future__ import annotations


class WfcontractsError(Exception):
    """A problem with the user's input or environment; its message is one readable line."""
