"""The exception every contract check raises."""

from __future__ import annotations


class ContractError(AssertionError):
    """A component breaks its kind's contract; the message names the component and what it did.

    Raised explicitly, never through ``assert``, so the checks hold under ``python -O`` and
    ``PYTHONOPTIMIZE``; a subclass of ``AssertionError``, so pytest reports it as a failed check.
    """
