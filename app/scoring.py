"""Scoring a batch of feature records: validate, predict, and say what to
publish and what to keep for the labels to come. No I/O here."""

from __future__ import annotations

import functools
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from app import pending
from app.drift import bucket, histogram, window_of
from app.errors import InvalidEvent, ModelError
from app.explain import predict_explained
from app.intake import Message, dead_letter, parse
from app.model import Features
from app.selection import sampled, shadow_predict
from app.serving import ServedModel
from app.settings import Settings
from schemas import (
    DeadLetterEvent,
    DeadLetterReason,
    Explanation,
    FeatureEvent,
    Label,
    PredictionEvent,
)

PREDICTION = "__prediction__"
"""The drift subject of the predictions themselves."""


@dataclass(slots=True)
class ScoredBatch:
    predictions: list[PredictionEvent] = field(default_factory=list)
    origins: list[float] = field(default_factory=list)
    """When each predicted event happened: its ``occurred_at``, or its Kafka
    timestamp (seconds since the epoch)."""
    confidences: list[float] = field(default_factory=list)
    """Probability of each predicted class (classifiers)."""
    pending: list[tuple[str, bytes]] = field(default_factory=list)
    """``(event id, pending record)`` to store before predictions go out."""
    shadow: Counter[str] = field(default_factory=Counter)
    """Shadow predictions kept, per challenger."""
    dead_letters: list[DeadLetterEvent] = field(default_factory=list)
    scored: list[Message] = field(default_factory=list)
    """The records behind the predictions, in their order."""
    windows: dict[int, dict[str, Counter[str]]] = field(default_factory=dict)
    """Drift histograms of this batch by the drift window of each event's
    time: per feature, and of the predictions."""
    clocks: dict[int, float] = field(default_factory=dict)
    """The newest event time scored (not past the scoring time), per
    partition of the features topic."""


@functools.lru_cache(maxsize=4096, typed=True)  # typed: True and 1 are distinct classes
def class_key(label: Label) -> str:
    """A class as a JSON object key: strings as they are, others as JSON text.

    >>> class_key(True), class_key(1), class_key("a")
    ('true', '1', 'a')
    """
    return label if isinstance(label, str) else json.dumps(label)


def decode_features(message: Message, settings: Settings) -> FeatureEvent:
    event = parse(message, FeatureEvent, settings.max_payload_bytes)
    if len(event.features) > settings.max_event_features:
        raise InvalidEvent(
            DeadLetterReason.TOO_MANY_FEATURES,
            f"{len(event.features)} features exceed the limit of {settings.max_event_features}",
        )
    return event


def score_batch(
    messages: list[Message],
    served: ServedModel,
    settings: Settings,
    now: datetime,
    *,
    keep: bool = True,
) -> ScoredBatch:
    """Every message gets exactly one prediction or one dead letter. With
    ``keep`` (the stream), also the predict-time records for the labels to
    come and the drift histograms; without (a file, an HTTP request that
    will not learn), only the predictions."""
    out = ScoredBatch()
    model, version = served.model, served.version
    shadows, sample = served.shadows, settings.challenger_sample
    kept, compress = settings.pending_sample, settings.pending_compression == "zlib"
    # 0: no explanation; None: every contribution.
    top = {"off": 0, "top": settings.explain_top, "all": None}[settings.explain]
    scored_at = now.timestamp()
    width = settings.drift_window_seconds
    rows: dict[int, list[Features]] = {}
    predicted: dict[int, Counter[str]] = {}
    for message in messages:
        try:
            event = decode_features(message, settings)
            try:
                if top == 0:
                    prediction, why = model.predict(event.features), None
                else:
                    prediction, why = predict_explained(model, event.features, top)
            except ModelError as exc:
                raise InvalidEvent(DeadLetterReason.MODEL_ERROR, str(exc)) from exc
        except InvalidEvent as exc:
            out.dead_letters.append(dead_letter(message, exc, now, settings.max_payload_bytes))
            continue
        proba = prediction.probabilities
        out.predictions.append(
            PredictionEvent(
                event_id=event.event_id,
                model=model.name,
                model_version=version,
                model_learned=served.learned,
                prediction=prediction.label,
                probabilities=None if proba is None else {class_key(k): p for k, p in proba},
                scored_at=now,
                # Built from plain floats and strings: no validation needed.
                explanation=None
                if why is None
                else Explanation.model_construct(
                    intercept=why.intercept,
                    score=why.score,
                    contributions=why.contributions,
                    path=why.path,
                ),
            )
        )
        out.scored.append(message)
        occurred = event.occurred_at
        origin = message.timestamp if occurred is None else occurred.timestamp()
        out.origins.append(origin)
        # Event time: when it happened, never later than now (a clock ahead
        # of ours, or a bad timestamp, must not judge windows to come).
        at = min(origin, scored_at)
        if keep and sampled(event.event_id, kept):
            shadow = shadow_predict(shadows, event.features, event.event_id, sample)
            if shadow:
                out.shadow.update(shadow.keys())
            record = pending.encode(
                event.features, prediction, version, scored_at, shadow, at, compress=compress
            )
            out.pending.append((event.event_id, record))
        if proba:
            out.confidences.append(max(p for _, p in proba))
        if keep:
            window = window_of(at, width)
            if prediction.label is not None:
                predicted.setdefault(window, Counter())[bucket(prediction.label)] += 1
            rows.setdefault(window, []).append(event.features)
            p = message.partition
            out.clocks[p] = max(out.clocks.get(p, at), at)
    for window, features in rows.items():
        counts = out.windows[window] = histogram(features)
        if window in predicted:
            counts[PREDICTION] = predicted[window]
    return out
