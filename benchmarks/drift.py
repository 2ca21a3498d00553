"""``python -m benchmarks.drift``: how soon the served model recovers from
an abrupt concept change, by ``EDDY_DRIFT_ACTION``, on the demo's SEA
stream (20,000 events, the concept flips half-way), labels 100 events late,
through the learner's pure code (no Kafka, no Redis; the process that
learns serves its live model, as the worker's learner does).

Prints, per policy: labels from the flip to the first error-drift
detection, and to the rolling accuracy (last 500 labels) back within 2
points of its level before the flip; and the whole stream's accuracy.
Seeded: the same figures every run."""

from __future__ import annotations

import argparse
from collections import deque
from dataclasses import dataclass

from river import stream

from app import pending
from app.learner import Learner, Outcome
from app.settings import DriftAction, Settings
from app.training import initial_state
from demo.stream import sea_drift
from schemas import TrainingEvent

WINDOW = 500
TOLERANCE = 0.02


@dataclass(frozen=True, slots=True)
class Recovery:
    detected: int | None
    """Labels from the flip to the first error drift detected."""
    recovered: int | None
    """Labels from the flip to the rolling accuracy back near ``before``."""
    before: float
    """Rolling accuracy just before the flip."""
    accuracy: float
    resets: int
    challenges: int
    """Challengers started by a drift (``challenge``)."""
    promoted: list[int]
    """Labels from the flip to each promotion."""


def run(action: DriftAction, n: int, delay: int, seed: int) -> Recovery:
    settings = Settings(drift_action=action)
    learner = Learner(initial_state(settings), 0)
    learner.configure(settings)
    flip = n // 2
    records: dict[int, bytes] = {}
    rolling: deque[bool] = deque(maxlen=WINDOW)
    right = labels = 0
    before: float | None = None
    detected = recovered = None
    promoted: list[int] = []
    for i, x, y in stream.simulate_qa(sea_drift(n, seed), moment=None, delay=delay):
        if y is None:  # scored by the champion, and any challenger in shadow
            records[i] = learner.scored(x, str(i), at=float(i))
            continue
        record = records.pop(i)
        hit = pending.decode(record).served.label == y
        right += hit
        rolling.append(hit)
        labels += 1
        event = TrainingEvent(event_id=str(i), label=y, label_at=float(i))
        learned = learner.learn([(labels, event)], [record], max_delay=1e12, wait=0, now=float(i))
        if learned.outcomes[Outcome.JOINED] != 1:
            raise AssertionError(f"label {i} not learned: {dict(learned.outcomes)}")
        if (earned := learner.earned()) is not None:  # as the worker's learner does
            learner.promote(earned)
            learner.state.began(learner.version + 1)
            promoted.append(i - flip)
        learner.wrote(learner.version + 1)  # a version after each label
        if i == flip - 1:
            before = sum(rolling) / len(rolling)
        if i >= flip:
            if detected is None and learned.drifts:
                detected = i - flip
            level = sum(rolling) / len(rolling)
            if recovered is None and i - flip >= WINDOW and before and level >= before - TOLERANCE:
                recovered = i - flip
    return Recovery(
        detected,
        recovered,
        before or 0.0,
        right / labels,
        learner.resets,
        learner.challenges,
        promoted,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.drift", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--delay", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(f"SEA, {args.events:,} events, flip at {args.events // 2:,}, labels {args.delay} late\n")
    print(
        "| EDDY_DRIFT_ACTION | labels to detection | labels to recovery (rolling accuracy "
        f"within {TOLERANCE:.0%} of before) | resets / challengers started | promotions "
        "(labels after the flip) | accuracy, whole stream |"
    )
    print("|---|---|---|---|---|---|")
    actions: tuple[DriftAction, ...] = ("alert", "reset", "challenge")
    for action in actions:
        r = run(action, args.events, args.delay, args.seed)
        print(
            f"| `{action}` | {r.detected} | {r.recovered} (before: {r.before:.3f}) | "
            f"{r.resets} / {r.challenges} | {', '.join(map(str, r.promoted)) or 'none'} | "
            f"{r.accuracy:.4f} |"
        )


if __name__ == "__main__":
    main()
