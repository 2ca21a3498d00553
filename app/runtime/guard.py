"""A batch whose handling raises an unexpected error (a bug, a record no
check foresaw) must not stall its partition. It is tried again with backoff,
``processing_retries`` times; then each of its records is dead-lettered with
reason ``processing_error`` and the exception's text, and the partition goes
on. Kafka and Redis being away are not such errors: ``publish`` and
``persist`` wait those out, and nothing is dead-lettered for them.

>>> import asyncio
>>> from app.intake import Message
>>> record = Message(b"k", b"{}", "features", 0, 7, 0.0)
>>> async def broken() -> int:
...     raise KeyError("x")
>>> failed = asyncio.run(guarded(broken, [record], Settings(processing_retries=0)))
>>> [(d.reason.value, d.error, d.source.offset) for d in failed.letters]
[('processing_error', "KeyError: 'x'", 7)]
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from app import metrics
from app.errors import InvalidEvent
from app.intake import Message, dead_letter
from app.runtime.publish import publish
from app.settings import Settings
from schemas import DeadLetterEvent, DeadLetterReason, TrainingEvent

log = logging.getLogger(__name__)
T = TypeVar("T")


FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Failed:
    """A batch given up: the dead letters of its records."""

    letters: list[DeadLetterEvent]


async def guarded(
    work: Callable[[], Awaitable[T]], records: Sequence[Message], settings: Settings
) -> T | Failed:
    """``await work()``, tried up to ``processing_retries`` more times with
    backoff; if it never succeeds, what to dead-letter for ``records`` instead.
    (A loop rather than a retrying library: the first try, on every batch,
    must cost no more than the call itself.)"""
    retries = settings.processing_retries
    topic = records[0].topic if records else ""
    backoff = FIRST_BACKOFF_SECONDS
    for attempt in range(retries + 1):
        try:
            return await work()
        except Exception as exc:
            metrics.processing_errors.labels(topic).inc()
            if attempt == retries:
                log.exception(
                    "a batch of %d records from %s failed %d times: dead-lettered "
                    "(processing_error)",
                    len(records),
                    topic,
                    retries + 1,
                )
                text = f"{type(exc).__name__}: {exc}"
                return Failed(failed_letters(records, text, settings, datetime.now(UTC)))
            log.warning("a batch from %s failed (%r): trying again in %.1f s", topic, exc, backoff)
        await asyncio.sleep(backoff)
        backoff = min(2 * backoff, MAX_BACKOFF_SECONDS)
    raise AssertionError("unreachable")


async def delivered(
    send: Callable[[], Awaitable[object]],
    records: Sequence[Message],
    settings: Settings,
    dead_letters: Any,
) -> Failed | None:
    """``await send()`` (a batch's outputs), guarded; if it never succeeds,
    the records are dead-lettered on ``dead_letters`` instead: the failure."""
    sent = await guarded(send, records, settings)
    if isinstance(sent, Failed):
        await publish(dead_letters, ((d.key, d) for d in sent.letters))
        return sent
    return None


def failed_letters(
    records: Sequence[Message], error: str, settings: Settings, at: datetime
) -> list[DeadLetterEvent]:
    """A ``processing_error`` dead letter for each record."""
    reason = InvalidEvent(DeadLetterReason.PROCESSING_ERROR, error)
    return [dead_letter(r, reason, at, settings.max_payload_bytes) for r in records]


def failed_labels(
    failed: Sequence[tuple[int, TrainingEvent, str]], settings: Settings, at: datetime
) -> list[DeadLetterEvent]:
    """A ``processing_error`` dead letter for each label whose learning
    raised, with its training-topic offset as the source."""
    letters = []
    for offset, event, error in failed:
        record = Message(
            event.event_id.encode(),
            event.model_dump_json().encode(),
            settings.topic_training,
            0,
            offset,
            event.label_at,
        )
        letters += failed_letters([record], error, settings, at)
    return letters
