"""The one error tree of the worker.

::

    EddyError                   root: catch this to catch everything of ours
    ├── ConfigError             settings refused at start-up (not retriable)
    ├── InvalidEvent            one message cannot be handled; it is dead-lettered
    ├── ModelError              the model could not score or learn an event
    ├── StoreUnavailable        Redis did not answer in time (retriable)
    ├── SnapshotConflict        another learner wrote a newer model (retriable:
    │                           reload the newest snapshot and go on)
    ├── BadSnapshot             a snapshot that cannot be loaded: refused,
    │                           counted, and the version in hand kept
    ├── CommandRefused          an operator's command that cannot be carried
    │                           out (no such version, nothing pinned...)
    └── TopicError              the broker refused to create a topic (not retriable)

``retriable`` says whether the same operation may succeed if tried again.
"""

from __future__ import annotations

from schemas import DeadLetterReason


class EddyError(Exception):
    retriable: bool = False


class ConfigError(EddyError):
    pass


class InvalidEvent(EddyError):
    def __init__(self, reason: DeadLetterReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ModelError(EddyError):
    pass


class StoreUnavailable(EddyError):
    retriable = True


class SnapshotConflict(EddyError):
    retriable = True

    def __init__(self, message: str, head: int | None = None) -> None:
        super().__init__(message)
        self.head = head
        """The version Redis holds instead (None: no version at all)."""


class BadSnapshot(EddyError):
    def __init__(self, message: str, reason: str = "unreadable") -> None:
        super().__init__(message)
        self.reason = reason
        """Why, as the refusals metric counts it: ``unreadable`` (not a
        snapshot of this kind), ``forbidden`` (holds what no snapshot may),
        ``unsigned``, ``unknown_key`` or ``bad_signature``."""


class CommandRefused(EddyError):
    pass


class TopicError(EddyError):
    pass
