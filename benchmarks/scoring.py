"""``python -m benchmarks.scoring``: what scoring one event costs in the
worker's pure code (``score_batch``: validate, predict, build the prediction
and its predict-time record), by explanation setting, with no Kafka and no
Redis; and, without explanations, with the model predicting through River's
pipeline and the encoder's Python code instead of the compiled encoder
(``app/_encoder.c``), as before it. Alternates the ways ``--repeats`` times
and prints the median microseconds per event and each one's ratio to
scoring without explanations, measured in the same run."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime

from app import catalog
from app.intake import Message
from app.model import OnlineModel
from app.scoring import score_batch
from app.serving import ServedModel
from app.settings import Settings
from benchmarks.data import events
from tests.reference import python_model

PYTHON = "off, the encoder's Python code and River's pipeline"

SETTINGS = {
    "off": Settings(explain="off"),
    "top 5": Settings(explain="top", explain_top=5),
    "all": Settings(explain="all"),
}


def measure(n: int, repeats: int, batch: int = 500) -> dict[str, float]:
    """Median µs per event of ``score_batch``, by explanation setting."""
    data = list(events(n, "scoring"))
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    for _, value, y in data[: n // 2]:  # warm: every weight and category known
        model.learn(json.loads(value)["features"], y)
    served = ServedModel(model, 1)
    python = python_model(model)
    ways = {
        **{name: (served, s) for name, s in SETTINGS.items()},
        PYTHON: (ServedModel(python, 1), SETTINGS["off"]),
    }
    messages = [Message(k.encode(), v, "features", 0, i, 0.0) for i, (k, v, _) in enumerate(data)]
    chunks = [messages[i : i + batch] for i in range(0, n, batch)]
    now = datetime.now(UTC)
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, (way, settings) in ways.items():
            began = time.perf_counter()
            predicted = sum(len(score_batch(c, way, settings, now).predictions) for c in chunks)
            times[name].append((time.perf_counter() - began) / n * 1e6)
            if predicted != n:  # it timed what it says it timed
                raise AssertionError(f"{predicted} of {n} events predicted ({name})")
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scoring", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    medians = measure(args.events, args.repeats)
    base = medians["off"]
    print(f"{args.events:,} events, median of {args.repeats} alternating runs\n")
    print("| explanations, encoder | µs per event | ratio to off |\n|---|---|---|")
    for name, micros in medians.items():
        print(f"| {name} | {micros:.1f} | {micros / base:.2f} |")


if __name__ == "__main__":
    main()
