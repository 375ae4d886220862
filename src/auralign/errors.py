"""Errors that carry a message meant for the user: the CLI prints them in one line, no traceback."""

from __future__ import annotations


class AuralignError(Exception):
    """Base class for errors caused by user input or the environment, not by a bug."""


class AudioLoadError(AuralignError):
    """An audio file could not be used; the message names the file and the reason."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class BackboneMissingError(AuralignError):
    """A pretrained backbone has not been fetched into the cache yet."""


class CheckpointError(AuralignError):
    """A checkpoint folder is missing, incomplete or of an unknown kind."""


class AudioTooLongError(AudioLoadError):
    """A file longer than the caller's duration limit: a failure of this run, not of the file, so it is
    never remembered by a cache."""
