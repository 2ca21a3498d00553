"""The benchmark's events: 20 numeric and 2 categorical features (about 580
bytes of JSON), keyed by event id, seeded."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator


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
