"""``POST /predict``, ``/explain`` and ``/learn``: events and labels over
HTTP, through the same code as the stream's (``score_batch``,
``route_labels``). Pure: the web view stores what a ``learnable`` request
keeps, and sends a ``/learn`` request's labels to the learner.

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
from app.labels import route_labels
from app.model import OnlineModel
from app.scoring import ScoredBatch, score_batch
from app.serving import ServedModel
from app.settings import Settings
from schemas import DeadLetterReason, TrainingEvent

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


def refusal(status: int, reason: DeadLetterReason, error: str) -> Answer:
    """A request refused whole, in the shape of every refusal here."""
    return Answer(status, {"errors": [_error(reason, error)]})


def _items(raw: bytes, settings: Settings, now: datetime) -> tuple[list[Message], bool] | Answer:
    """The request's items as messages (as if read from a topic, offsets
    their places), and whether it was a single one; or the answer refusing it."""
    # The body's size is the web server's to bound (1 MiB).
    try:
        body = json.loads(raw)
    except ValueError as exc:
        return refusal(400, DeadLetterReason.INVALID_JSON, str(exc))
    single = not isinstance(body, list)
    items = [body] if single else body
    if not items:
        return refusal(400, DeadLetterReason.SCHEMA_VIOLATION, "empty array")
    if len(items) > settings.batch_max_events:
        error = f"{len(items)} items exceed the limit of {settings.batch_max_events}"
        return refusal(413, DeadLetterReason.OVERSIZE_PAYLOAD, error)
    stamp = now.timestamp()
    messages = [
        Message(None, json.dumps(item).encode(), SOURCE, 0, i, stamp)
        for i, item in enumerate(items)
    ]
    return messages, single


def predict(
    raw: bytes, served: ServedModel, settings: Settings, now: datetime, *, learnable: bool = False
) -> Answer:
    """Score a request's events with ``served``; with ``learnable``, the
    answer carries their predict-time records, so that a label for each
    event id is joined and learned as for a streamed event."""
    parsed = _items(raw, settings, now)
    if isinstance(parsed, Answer):
        return parsed
    messages, single = parsed
    batch = score_batch(messages, served, settings, now, keep=learnable)
    if batch.dead_letters:
        errors = [
            _error(d.reason, d.error, None if single else d.source.offset)
            for d in batch.dead_letters
        ]
        return Answer(400, {"errors": errors})
    predictions = [p.model_dump(mode="json") for p in batch.predictions]
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
        return refusal(422, DeadLetterReason.MODEL_ERROR, error)
    return answer


def learn(
    raw: bytes, model: OnlineModel, settings: Settings, now: datetime, request: str
) -> tuple[Answer, list[TrainingEvent]]:
    """One label of the labels contract, or an array: the training records
    to send to the learner, each with its reply (``<request>:<index>``),
    or the answer refusing them all (the dead-letter reasons)."""
    parsed = _items(raw, settings, now)
    if isinstance(parsed, Answer):
        return parsed, []
    messages, single = parsed
    routed = route_labels(messages, model, settings, now)
    if routed.dead_letters:
        errors = [
            _error(d.reason, d.error, None if single else d.source.offset)
            for d in routed.dead_letters
        ]
        return Answer(400, {"errors": errors}), []
    training = [
        t.model_copy(update={"reply": f"{request}:{m.offset}"})
        for t, m in zip(routed.training, routed.routed, strict=True)
    ]
    return Answer(202, {}), training


def outcomes(training: list[TrainingEvent], known: dict[int, str]) -> Answer:
    """The answer to a ``/learn`` request: each label's outcome, in order;
    200 when all are known, 202 when some are not yet (``pending``: the
    learner has not reached them, or they wait for their features)."""
    rows = [
        {"event_id": t.event_id, "outcome": known.get(i, "pending")} for i, t in enumerate(training)
    ]
    return Answer(200 if len(known) >= len(training) else 202, {"outcomes": rows})
