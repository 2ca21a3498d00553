"""``POST /predict`` and ``POST /explain``: feature events over HTTP,
scored by the same code as the stream (``score_batch``), answered as the
predictions topic carries them. Pure: the web view stores what a
``learnable`` request keeps.

The body is one event of the features contract (answered with one
prediction) or a JSON array of them (answered ``{"predictions": [...]}``,
in order). Any invalid event fails the whole request with 400 and the
dead-letter reasons, and nothing is stored.

>>> from datetime import UTC, datetime
>>> from app.serving import ServedModel
>>> from app.settings import Settings
>>> from app.training import initial_state
>>> settings = Settings()
>>> served = ServedModel(initial_state(settings).model, 3, 0.0)
>>> now = datetime(2026, 12, 1, tzinfo=UTC)
>>> answer = predict(b'{"event_id": "e1", "features": {"x": 1.0}}', served, settings, now)
>>> answer.status, answer.body["model_version"], answer.body["prediction"]
(200, 3, False)
>>> bad = predict(b'[{"event_id": "e1", "features": {}}, {"features": {}}]', served, settings, now)
>>> bad.status, bad.body["errors"][0]["index"], bad.body["errors"][0]["reason"], bad.pending
(400, 1, 'missing_event_id', [])
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.intake import Message
from app.scoring import ScoredBatch, score_batch
from app.serving import ServedModel
from app.settings import Settings
from schemas import DeadLetterReason

SOURCE = "http"
"""The topic name an HTTP event's dead-letter source would carry."""


@dataclass(slots=True)
class Answer:
    status: int
    body: Any
    pending: list[tuple[str, bytes]] = field(default_factory=list)
    """Predict-time records to store (a ``learnable`` request's)."""
    scored: ScoredBatch | None = None


def _error(reason: DeadLetterReason, error: str, index: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"reason": reason.value, "error": error}
    if index is not None:
        found["index"] = index
    return found


def predict(
    raw: bytes, served: ServedModel, settings: Settings, now: datetime, *, learnable: bool = False
) -> Answer:
    """Score a request's events with ``served``; with ``learnable``, the
    answer carries their predict-time records, so that a label for each
    event id is joined and learned as for a streamed event."""
    if len(raw) > settings.max_payload_bytes * settings.batch_max_events:
        return Answer(
            413, {"errors": [_error(DeadLetterReason.OVERSIZE_PAYLOAD, "request too large")]}
        )
    try:
        body = json.loads(raw)
    except ValueError as exc:
        return Answer(400, {"errors": [_error(DeadLetterReason.INVALID_JSON, str(exc))]})
    single = not isinstance(body, list)
    events = [body] if single else body
    if not events:
        return Answer(400, {"errors": [_error(DeadLetterReason.SCHEMA_VIOLATION, "no event")]})
    if len(events) > settings.batch_max_events:
        error = f"{len(events)} events exceed the limit of {settings.batch_max_events}"
        return Answer(413, {"errors": [_error(DeadLetterReason.OVERSIZE_PAYLOAD, error)]})
    stamp = now.timestamp()
    messages = [
        Message(None, json.dumps(event).encode(), SOURCE, 0, i, stamp)
        for i, event in enumerate(events)
    ]
    batch = score_batch(messages, served, settings, now)
    if batch.dead_letters:
        errors = [
            _error(d.reason, d.error, None if single else d.source.offset)
            for d in batch.dead_letters
        ]
        return Answer(400, {"errors": errors})
    predictions = [json.loads(p.model_dump_json()) for p in batch.predictions]
    body_out: Any = predictions[0] if single else {"predictions": predictions}
    return Answer(200, body_out, batch.pending if learnable else [], batch)


def explain(
    raw: bytes, served: ServedModel, settings: Settings, now: datetime, top: int | None
) -> Answer:
    """As ``predict``, each prediction with its explanation (the ``top``
    contributions by size, or all of them with None) whatever
    ``EDDY_EXPLAIN`` says; 422 when the served model has none to give."""
    explaining = settings.model_copy(
        update={"explain": "all"} if top is None else {"explain": "top", "explain_top": top}
    )
    answer = predict(raw, served, explaining, now)
    if answer.status != 200:
        return answer
    assert answer.scored is not None
    if any(p.explanation is None for p in answer.scored.predictions):
        error = f"{served.model.name} gives no explanations (linear models and trees do)"
        return Answer(422, {"errors": [_error(DeadLetterReason.MODEL_ERROR, error)]})
    return answer
