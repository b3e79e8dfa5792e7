"""Errors of the `lomsong` command itself (the parts keep their own hierarchies).

    UsageError   options that cannot go together, or a file named on the command line is missing
"""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """A mistake in how a command was called; the message is Vietnamese first, English after."""

