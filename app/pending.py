"""What is kept of a scored event until its label comes: the features as
scored, the prediction as served, the model version and the time.

>>> from app.model import Prediction
>>> raw = encode({"x": 1.0}, Prediction(True, ((False, 0.25), (True, 0.75))), 3, 10.0)
>>> decode(raw).served
Prediction(label=True, probabilities=((False, 0.25), (True, 0.75)))
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from app.model import Features, Prediction


@dataclass(frozen=True, slots=True)
class Pending:
    features: Features
    served: Prediction
    version: int
    scored_at: float


def encode(features: Features, served: Prediction, version: int, scored_at: float) -> bytes:
    # JSON keeps each class's type (true, 1, "a") and every float exactly
    # (orjson writes the shortest representation that reads back the same).
    proba = None if served.probabilities is None else [list(p) for p in served.probabilities]
    return orjson.dumps(
        {"x": features, "y": served.label, "p": proba, "v": version, "t": scored_at}
    )


def decode(raw: bytes) -> Pending:
    d = orjson.loads(raw)
    proba = None if d["p"] is None else tuple((k, p) for k, p in d["p"])
    return Pending(d["x"], Prediction(d["y"], proba), d["v"], d["t"])
