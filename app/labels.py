"""Labels in: validate them, and hand the valid ones to the learner. No I/O."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from app.errors import InvalidEvent
from app.intake import Message, dead_letter, parse
from app.learner import Record
from app.model import OnlineModel
from app.settings import Settings
from schemas import DeadLetterEvent, DeadLetterReason, LabelEvent, TrainingEvent

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RoutedLabels:
    training: list[TrainingEvent] = field(default_factory=list)
    dead_letters: list[DeadLetterEvent] = field(default_factory=list)
    routed: list[Message] = field(default_factory=list)
    """The records behind the training records, in their order."""
    forwarded: list[Record] = field(default_factory=list)
    """The training records as published: each with its offset in the
    training topic."""


def route_labels(
    messages: list[Message], model: OnlineModel, settings: Settings, now: datetime
) -> RoutedLabels:
    """Every label becomes a training record or a dead letter."""
    out = RoutedLabels()
    for message in messages:
        try:
            label = parse(message, LabelEvent, settings.max_payload_bytes)
            if not model.accepts(label.label):
                raise InvalidEvent(
                    DeadLetterReason.LABEL_TYPE_MISMATCH,
                    f"a {type(label.label).__name__} label does not fit "
                    f"the {model.kind} {model.name}",
                )
        except InvalidEvent as exc:
            out.dead_letters.append(dead_letter(message, exc, now, settings.max_payload_bytes))
            continue
        out.routed.append(message)
        # The label's time: when it happened, or reached the topic (its
        # lateness is judged against the event's time; one stamped ahead of
        # the event by more than the allowed delay is expired, not learned).
        at = message.timestamp if label.occurred_at is None else label.occurred_at.timestamp()
        out.training.append(TrainingEvent(event_id=label.event_id, label=label.label, label_at=at))
    return out


def training_records(messages: list[Message]) -> list[Record]:
    """Training-topic records as ``(offset, event)``. The worker wrote them
    itself; one that does not parse is logged and skipped."""
    records = []
    for message in messages:
        try:
            event = TrainingEvent.model_validate_json(message.value or b"")
        except ValueError:
            log.error("unreadable training record at %s", message.source)
            continue
        records.append((message.offset, event))
    return records
