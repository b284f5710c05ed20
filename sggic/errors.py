"""One error hierarchy for the whole library.

Every error raised on purpose by sggic derives from :class:`SggicError`; its message is a
single line that the command line prints as is (no traceback).
"""

from __future__ import annotations


class SggicError(Exception):
    """Base class: a failure sggic expects and can explain in one line."""

    exit_code = 1


class InputError(SggicError):
    """The user's input (image, JSON, option value) cannot be used."""

    exit_code = 2


class BitstreamError(SggicError):
    """A .sgc file is corrupt, truncated, foreign or of an unsupported version."""

    exit_code = 3


class RateError(SggicError):
    """The requested rate cannot be reached with the chosen base codec."""

    exit_code = 4


class BackendUnavailable(SggicError):
    """A codec, model or metric backend is not installed or cannot run here."""

    exit_code = 5


class MissingWeights(BackendUnavailable):
    """Model weights that a component needs are not where they should be."""


class ServiceError(SggicError):
    """A remote service (the VLM that writes semantics) failed, timed out or answered nonsense."""

    exit_code = 6
