"""Turning raw Kafka records into contracts, or into dead letters.

>>> from schemas import FeatureEvent
>>> msg = Message(key=b"e1", value=b'{"event_id": "e1", "features": {"x": NaN}}',
...               topic="features", partition=0, offset=7, timestamp=0.0)
>>> parse(msg, FeatureEvent, max_payload_bytes=1024)
Traceback (most recent call last):
...
app.errors.InvalidEvent: ...finite number...
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from app.errors import InvalidEvent
from schemas import DeadLetterEvent, DeadLetterReason, Source

C = TypeVar("C", bound=BaseModel)


@dataclass(slots=True)
class Message:
    """A record as read from Kafka. (Not frozen: a frozen dataclass sets
    each field through ``object.__setattr__``, four times the cost of
    building a plain one, and one is built per record consumed.)"""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    timestamp: float
    """Kafka timestamp, seconds since the epoch."""

    @property
    def source(self) -> Source:
        """Where it came from, as the dead-letter contract says it (built only
        when needed: validating one per record cost more than scoring it)."""
        return Source(topic=self.topic, partition=self.partition, offset=self.offset)


def _reason(error: ValidationError) -> DeadLetterReason:
    errors = error.errors()
    if any(e["type"] == "json_invalid" for e in errors):
        return DeadLetterReason.INVALID_JSON
    if any(e["type"] == "missing" and e["loc"] == ("event_id",) for e in errors):
        return DeadLetterReason.MISSING_EVENT_ID
    if any(e["type"] == "finite_number" for e in errors):
        return DeadLetterReason.NON_FINITE_VALUE
    return DeadLetterReason.SCHEMA_VIOLATION


def parse(message: Message, contract: type[C], max_payload_bytes: int) -> C:
    """Validate a record's raw bytes against ``contract`` or raise ``InvalidEvent``."""
    raw = message.value
    if not raw:
        raise InvalidEvent(DeadLetterReason.INVALID_JSON, "empty payload")
    if len(raw) > max_payload_bytes:
        raise InvalidEvent(
            DeadLetterReason.OVERSIZE_PAYLOAD,
            f"payload of {len(raw)} bytes exceeds the limit of {max_payload_bytes}",
        )
    try:
        return contract.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidEvent(_reason(exc), _describe(exc)) from exc


def _describe(error: ValidationError) -> str:
    parts = []
    for e in error.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in e["loc"]) or "payload"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def dead_letter(
    message: Message, error: InvalidEvent, at: datetime, max_payload_bytes: int
) -> DeadLetterEvent:
    """The dead-letter record for a message: reason, where it came from, and
    its raw payload (base64 if it is not UTF-8, cut at the payload limit)."""
    raw = message.value or b""
    truncated = len(raw) > max_payload_bytes
    raw = raw[:max_payload_bytes]
    encoding: Literal["utf-8", "base64"] = "utf-8"
    try:
        payload = raw.decode("utf-8")
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(raw).decode("ascii"), "base64"
    key = None
    if message.key is not None:
        key = message.key.decode("utf-8", errors="backslashreplace")
    return DeadLetterEvent(
        reason=error.reason,
        error=str(error),
        source=message.source,
        key=key,
        payload=payload,
        payload_encoding=encoding,
        payload_truncated=truncated,
        at=at,
    )
