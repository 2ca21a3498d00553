"""``python -m benchmarks.learning``: what learning one label costs, piece by
piece, on the benchmark's events, with no Kafka and no Redis.

It times the learner's pure path (``Learner.learn``, its join results given)
and each of its pieces on their own, and prints microseconds per label
(median of ``--repeats``) and each piece's share of the whole. It is the
floor under the worker's learning: whatever the I/O around it costs comes
on top.
"""

from __future__ import annotations

import argparse
import copy
import pickle
import statistics
import time
from collections.abc import Callable

from app import catalog, pending
from app.blocks import Blocks
from app.learner import Learner, Outcome, Record, Waiting
from app.model import Prediction, present
from app.quality import Quality
from app.settings import Settings
from app.training import initial_state
from benchmarks.data import events
from schemas import FeatureEvent, TrainingEvent

SERVED = Prediction(True, ((False, 0.4), (True, 0.6)))
"""What each event's served prediction is taken to be."""


def per_item(run: Callable[[], object], n: int, repeats: int) -> float:
    """Median microseconds per item of ``run`` (which handles ``n`` items)."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) / n * 1e6)
    return statistics.median(times)


RETRY = Settings().batch_max_events
"""Labels a retry takes off the front of the waiting list (those still
without features go to the back): the learner's churn between snapshots."""


def snapshot_in_blocks(waiting: list[Waiting], repeats: int) -> float:
    """Median microseconds per waiting label of a snapshot of its waiting
    list in blocks, each after a retry moved ``RETRY`` labels to the back."""
    blocks: Blocks[Waiting] = Blocks()
    waiting = list(waiting)
    blocks.dump(waiting, Waiting.dump)
    times = []
    for _ in range(max(repeats, 5)):
        moved, waiting[:] = waiting[:RETRY], waiting[RETRY:]
        waiting += [Waiting(w.offset, w.event, w.since) for w in moved]
        began = time.perf_counter()
        blocks.dump(waiting, Waiting.dump)
        times.append((time.perf_counter() - began) / len(waiting) * 1e6)
    return statistics.median(times)


def measure(n: int, repeats: int) -> list[tuple[str, float]]:
    data = [
        (FeatureEvent.model_validate_json(value), event_id, y)
        for event_id, value, y in events(n, "learning")
    ]
    xs = [present(event.features) for event, _, _ in data]
    ys = [y for _, _, y in data]
    raw_training = [
        TrainingEvent(event_id=event_id, label=y, label_at=1.0).model_dump_json().encode()
        for _, event_id, y in data
    ]
    records: list[Record] = [
        (i, TrainingEvent.model_validate_json(raw)) for i, raw in enumerate(raw_training)
    ]
    joined = [pending.encode(event.features, SERVED, 0, 0.0) for event, _, _ in data]

    pipeline = catalog.build("logistic-regression")
    for x, y in zip(xs, ys, strict=True):  # warm: every feature and class known
        pipeline.learn_one(x, y)
    encoder, linear = pipeline.steps.values()
    encoded = [encoder.transform_one(x) for x in xs]
    python = copy.deepcopy(encoder)
    update: Callable[..., object] = Quality("classifier").update

    def learner_learn() -> None:
        learner = Learner(initial_state(Settings()), 0)
        learned = learner.learn(records, joined, max_delay=1e9, wait=0.0, now=1.0)
        if learned.outcomes[Outcome.JOINED] != n:  # it timed what it says it timed
            raise AssertionError(f"learned {dict(learned.outcomes)} of {n} labels")

    pairs = list(zip(xs, ys, strict=True))
    waiting = [Waiting(offset, event, 1.0) for offset, event in records]
    return [
        ("Learner.learn: all below, in order, per label", per_item(learner_learn, n, repeats)),
        (
            "River learn_one, whole pipeline",
            per_item(lambda: [pipeline.learn_one(x, y) for x, y in pairs], n, repeats),
        ),
        (
            "of it: MixedEncoder.learn_one (StandardScaler, OneHotEncoder)",
            per_item(lambda: [encoder.learn_one(x) for x in xs], n, repeats),
        ),
        (
            "of it: MixedEncoder.transform_one",
            per_item(lambda: [encoder.transform_one(x) for x in xs], n, repeats),
        ),
        (
            "for scale: the two above in the encoder's Python code (before it was compiled)",
            per_item(
                lambda: [(python.learn_python(x), python.transform_python(x)) for x in xs],
                n,
                repeats,
            ),
        ),
        (
            "of it: LogisticRegression.learn_one",
            per_item(
                lambda: [linear.learn_one(x, y) for x, y in zip(encoded, ys, strict=True)],
                n,
                repeats,
            ),
        ),
        (
            "live quality (Quality.update)",
            per_item(lambda: [update(y, SERVED) for y in ys], n, repeats),
        ),
        (
            "predict-time record decode",
            per_item(lambda: [pending.decode(raw) for raw in joined], n, repeats),
        ),
        (
            "training record parse (not in Learner.learn)",
            per_item(
                lambda: [TrainingEvent.model_validate_json(raw) for raw in raw_training],
                n,
                repeats,
            ),
        ),
        (
            "a waiting label in a snapshot, the whole list pickled again (before blocks; "
            "not in Learner.learn)",
            per_item(
                lambda: pickle.dumps([w.dump() for w in waiting], pickle.HIGHEST_PROTOCOL),
                n,
                repeats,
            ),
        ),
        (
            f"the same in blocks, a retry of {RETRY} moved to the back between snapshots",
            snapshot_in_blocks(waiting, repeats),
        ),
        (
            "for scale: River predict_proba_one, whole pipeline, per event",
            per_item(lambda: [pipeline.predict_proba_one(x) for x in xs], n, repeats),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.learning", description=__doc__)
    parser.add_argument("--labels", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = measure(args.labels, args.repeats)
    whole = rows[0][1]
    print(f"{args.labels:,} labels, median of {args.repeats} runs\n")
    print("| piece | µs per label | share of Learner.learn |\n|---|---|---|")
    for name, micros in rows:
        shown = f"{micros:.1f}" if micros >= 1 else f"{micros:.3f}"
        print(f"| {name} | {shown} | {micros / whole:.1%} |")


if __name__ == "__main__":
    main()
