"""Errors that reach a user.

A :class:`UserError` is the user's to fix (a bad spec, path, name or file): the CLI prints its
message and exits with code 2, never a traceback. Anything else is our bug and exits with code 1.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix; the message says what, where and how."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.where}  {self.message}" if self.where else self.message
        return f"{head}\n  {self.hint}" if self.hint else head


class RegistryError(UserError):
    """An unknown, duplicate or malformed component."""
