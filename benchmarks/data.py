"""The benchmark's events: 20 numeric and 2 categorical features (about 580
bytes of JSON), keyed by event id, seeded."""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from app import catalog
from app.model import OnlineModel
from schemas import FeatureEvent, FeatureValue


def features(i: int, rng: random.Random, prefix: str) -> dict[str, object]:
    x: dict[str, object] = {f"f{j:02d}": round(rng.gauss(j, 1 + j / 10), 6) for j in range(20)}
    x["colour"] = rng.choice(("red", "green", "blue", "black"))
    x["country"] = rng.choice(("fr", "de", "es", "it", "pl", "nl"))
    return {"event_id": f"{prefix}-{i}", "features": x}


def label(x: dict[str, object]) -> bool:
    f = x["features"]
    assert isinstance(f, dict)
    return bool(f["f00"] + f["f01"] > 1.0)


def events(n: int, prefix: str, seed: int = 42) -> Iterator[tuple[str, bytes, bool]]:
    """``(event id, FeatureEvent JSON, label)``."""
    rng = random.Random(seed)
    for i in range(n):
        event = features(i, rng, prefix)
        yield str(event["event_id"]), json.dumps(event).encode(), label(event)


WARM = 2_000
"""Events every contender's model learns before the run (seed 1), so that
scoring is scoring a model with weights, and two contenders that score alike
publish the same probabilities to the last bit."""


def warm_events() -> Iterator[tuple[dict[str, FeatureValue], bool]]:
    """``(features, label)`` of the warm-up events."""
    for _, value, y in events(WARM, "warm", seed=1):
        yield json.loads(value)["features"], y


def output(event_id: str, label: object, probabilities: Mapping[Any, float]) -> bytes:
    """A contender's prediction: the event, its label and its probabilities,
    keyed as the worker's predictions key them (JSON text of each class)."""
    return json.dumps(
        {
            "event_id": event_id,
            "prediction": label,
            "probabilities": {json.dumps(k): float(p) for k, p in probabilities.items()},
        }
    ).encode()


def scored(model: OnlineModel, raw: bytes) -> tuple[FeatureEvent, bytes]:
    """An event's JSON validated with the worker's contract and scored: the
    event, and its prediction as ``output`` writes it (the bare loop's and
    the scoring pipe's, so both publish the same bytes)."""
    event = FeatureEvent.model_validate_json(raw)
    prediction = model.predict(event.features)
    return event, output(event.event_id, prediction.label, prediction.proba_dict() or {})


def warm_model() -> OnlineModel:
    """The catalog's ``logistic-regression``, warmed on ``warm_events``."""
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    for x, y in warm_events():
        model.learn(x, y)
    return model


def contender_args(
    prog: str, description: str | None, flags: Sequence[tuple[str, str]] = ()
) -> argparse.Namespace:
    """A contender's command line (``benchmarks.bare``, ``benchmarks.quix``,
    ``benchmarks.pipe``): where it reads and writes, how many events, how
    many of them it learns, and its own ``flags`` (``(flag, help)``, each on
    or off). Its consumer group is named after its sink."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for flag, help_text in flags:
        parser.add_argument(flag, action="store_true", help=help_text)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--learn-first", type=int, default=0)
    return parser.parse_args()
