"""The messages on the worker's topics (JSON on the wire, Kafka key = event id).

Numbers must be finite: one NaN learned poisons a linear model's weights, so
``NaN`` and ``Infinity`` are refused at the door.

>>> FeatureEvent.model_validate_json(b'{"event_id": "e1", "features": {"x": 1, "k": "a"}}')
FeatureEvent(event_id='e1', features={'x': 1.0, 'k': 'a'}, occurred_at=None)
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
EventId = Annotated[str, Field(min_length=1, max_length=256)]

Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]

# bool first: JSON true must stay a bool, not become 1.0.
FeatureValue = bool | FiniteFloat | str | None
Label = bool | Int64 | FiniteFloat | str


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class FeatureEvent(_Contract):
    """A producer's request for a prediction, on the features topic."""

    event_id: EventId
    features: dict[Annotated[str, Field(min_length=1, max_length=256)], FeatureValue]
    occurred_at: AwareDatetime | None = None


class LabelEvent(_Contract):
    """The true outcome of an event scored earlier, on the labels topic."""

    event_id: EventId
    label: Label
    occurred_at: AwareDatetime | None = None


class Explanation(_Contract):
    """Why the model predicted what it did (``EDDY_EXPLAIN``). A linear
    model gives its intercept, its raw score (logit or value) and the
    contribution of each transformed feature (weight times value; one-hot
    categories as ``name_category``); a tree, its decision path."""

    intercept: float | None = None
    score: float | None = None
    contributions: dict[str, float] | None = None
    path: list[str] | None = None


class PredictionEvent(_Contract):
    """What the worker publishes for every valid feature event.

    ``probabilities`` (classifiers only) maps each class, written as JSON text
    for non-string classes (``"true"``, ``"1"``), to its probability.
    ``model_learned`` is how many labels the model that scored had learned:
    the process that learns scores with its learner's own model, so its
    predictions name the last version written (``model_version``) and the
    labels learned since (more than that version's own count).
    """

    event_id: str
    model: str
    model_version: int
    model_learned: int | None = None
    prediction: Label | None
    probabilities: dict[str, float] | None = None
    scored_at: datetime
    explanation: Explanation | None = None


class Source(_Contract):
    """Where a message was read from."""

    topic: str
    partition: int
    offset: int


class DeadLetterReason(StrEnum):
    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    MISSING_EVENT_ID = "missing_event_id"
    NON_FINITE_VALUE = "non_finite_value"
    OVERSIZE_PAYLOAD = "oversize_payload"
    TOO_MANY_FEATURES = "too_many_features"
    LABEL_TYPE_MISMATCH = "label_type_mismatch"
    MODEL_ERROR = "model_error"
    PROCESSING_ERROR = "processing_error"


class DeadLetterEvent(_Contract):
    """A message the worker could not handle, with everything needed to replay it."""

    reason: DeadLetterReason
    error: str
    source: Source
    key: str | None = None
    payload: str
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    payload_truncated: bool = False
    at: datetime


class TrainingEvent(_Contract):
    """Internal: a valid label forwarded to the one learner of the model.

    ``label_at`` is the label's time (seconds since the epoch): its
    ``occurred_at``, or when it reached the labels topic. Lateness is judged
    against it and the event's own time, not against when it is learned.
    """

    event_id: str
    label: Label
    label_at: float
    reply: str | None = None
    """``<request id>:<index>`` for a label sent by ``POST /learn``: the
    learner writes its outcome there for the request to answer."""


class DriftEvent(_Contract):
    """A detected drift, on the drift topic.

    ``kind`` says what drifted: ``error`` (the served predictions' errors,
    windows counted in labels), ``feature`` or ``prediction`` (distributions,
    windows in seconds since the epoch).
    """

    kind: Literal["error", "feature", "prediction"]
    subject: str
    detector: str
    statistic: float | None = None
    threshold: float | None = None
    window_start: float
    window_end: float
    reference_start: float | None = None
    reference_end: float | None = None
    model: str
    model_version: int
    at: datetime


class ModelAction(StrEnum):
    """What an operator (or a drift policy) did to the model."""

    ROLLBACK = "rollback"
    """The model of an earlier version serves again, and learns on."""
    PIN = "pin"
    """The model of a version serves, and nothing replaces it: not learned
    (labels still joined and counted) until ``unpin``."""
    UNPIN = "unpin"
    FREEZE = "freeze"
    """Learning stops: labels are still joined and counted, not learned."""
    UNFREEZE = "unfreeze"
    RESET = "reset"
    """A fresh model took over on an error drift (``EDDY_DRIFT_ACTION=reset``)."""
    PROMOTE = "promote"
    """A challenger became the champion: it earned it, or an operator said so."""
    CHALLENGE = "challenge"
    """A fresh model started as a challenger on an error drift
    (``EDDY_DRIFT_ACTION=challenge``)."""


class ModelEvent(_Contract):
    """A model version written for a reason other than learning, on the
    model-events topic (and in the version log)."""

    model: str
    version: int
    """The version it wrote."""
    action: ModelAction
    source_version: int | None = None
    """The version whose model it serves (rollback, pin)."""
    champion: str | None = None
    """The pipeline that serves from this version on (promote)."""
    reason: str
    requested_at: datetime
    at: datetime
