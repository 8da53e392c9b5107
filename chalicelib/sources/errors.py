"""Errors of reading a source file: each rejects the whole file with its reason."""
from __future__ import annotations

from chalicelib.errors import DataError


class EmptySourceError(DataError):
    """The file holds no records."""

    def __init__(self, message: str = "the file holds no records") -> None:
        super().__init__(message)


class UnreadableSourceError(DataError):
    """The file cannot be read as a whole: corrupt gzip, malformed JSON array, bad CSV header."""


class TooManyChunksError(DataError):
    """The file would make more chunks than a run may have, at the chunk size asked for."""
