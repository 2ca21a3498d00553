"""What is kept of a scored event until its label comes: the features as
scored, the prediction as served, the model version, the time, and what the
challengers predicted in shadow (if the event was in their sample).

>>> from app.model import Prediction
>>> served = Prediction(True, ((False, 0.25), (True, 0.75)))
>>> raw = encode({"x": 1.0}, served, 3, 10.0)
>>> decode(raw).served
Prediction(label=True, probabilities=((False, 0.25), (True, 0.75)))
>>> decode(encode({"x": 1.0}, served, 3, 10.0, {"tree": Prediction(False, None)})).shadow
{'tree': Prediction(label=False, probabilities=None)}
>>> decode(encode({"x": 1.0}, served, 3, 10.0, compress=True)) == decode(raw)
True
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.model import Features, Prediction


@dataclass(frozen=True, slots=True)
class Pending:
    features: Features
    served: Prediction
    version: int
    scored_at: float
    shadow: dict[str, Prediction] = field(default_factory=dict)
    """Each challenger's prediction of the event, made where it was scored."""
    occurred: float | None = None
    """The event's time (its ``occurred_at``, or its Kafka timestamp, not
    past ``scored_at``): what a label's lateness is judged against. None
    in records written before it was kept."""

    @property
    def at(self) -> float:
        """The event's time, or its scoring time for older records."""
        return self.scored_at if self.occurred is None else self.occurred


def _prediction(p: Prediction) -> list[Any]:
    proba = None if p.probabilities is None else [list(kp) for kp in p.probabilities]
    return [p.label, proba]


def _read(row: list[Any]) -> Prediction:
    label, proba = row
    return Prediction(label, None if proba is None else tuple((k, p) for k, p in proba))


def encode(
    features: Features,
    served: Prediction,
    version: int,
    scored_at: float,
    shadow: Mapping[str, Prediction] | None = None,
    occurred: float | None = None,
    *,
    compress: bool = False,
) -> bytes:
    """The record as JSON, or with ``compress`` as zlib-compressed JSON
    (``EDDY_PENDING_COMPRESSION``); ``decode`` reads either."""
    # JSON keeps each class's type (true, 1, "a") and every float exactly
    # (orjson writes the shortest representation that reads back the same).
    proba = None if served.probabilities is None else [list(p) for p in served.probabilities]
    record: dict[str, Any] = {"x": features, "y": served.label, "p": proba, "v": version}
    record["t"] = scored_at
    if shadow:
        record["s"] = {name: _prediction(p) for name, p in shadow.items()}
    if occurred is not None and occurred != scored_at:
        record["o"] = occurred
    raw = orjson.dumps(record)
    return zlib.compress(raw, 1) if compress else raw


def decode(raw: bytes) -> Pending:
    # JSON starts with "{", a zlib stream with 0x78: records written with
    # and without compression read alike.
    d = orjson.loads(zlib.decompress(raw) if raw[:1] == b"\x78" else raw)
    proba = None if d["p"] is None else tuple((k, p) for k, p in d["p"])
    shadow = {name: _read(row) for name, row in d["s"].items()} if "s" in d else {}
    return Pending(d["x"], Prediction(d["y"], proba), d["v"], d["t"], shadow, d.get("o"))
