"""``python -m benchmarks.challengers``: the catalog's challengers on River's
Phishing, through the learner's pure code (no Kafka, no Redis): each event
scored by the champion and, in shadow, by each challenger, as the learner's
process does, then its label joined and learned; each one's quality as it
is compared with the champion, against River's own published figures for
the same pipelines; what each costs per event (its shadow prediction and
its learning); and whether, and when, the sequential test promotes one.

Labels follow their events at once (a version written after each), as in
River's figures: each prediction is made just before its label is learned,
River's progressive validation."""

from __future__ import annotations

import argparse
import time
from typing import Any

from river import datasets

from app.learner import Learner, Outcome
from app.settings import ModelName, Settings
from app.training import initial_state
from schemas import TrainingEvent

CHALLENGERS: list[ModelName] = [
    "hoeffding-adaptive-tree",
    "adaptive-random-forest",
    "bandit-logistic-regression",
    "successive-halving-logistic-regression",
]
PUBLISHED = {
    "logistic-regression": "Accuracy 89.28%, ROC AUC 95.07% (StandardScaler, LogisticRegression)",
    "bandit-logistic-regression": "Accuracy 88.96% (BanditClassifier, EpsilonGreedy)",
    "successive-halving-logistic-regression": "ROC AUC 95.22% (SuccessiveHalvingClassifier)",
}


def run(
    challengers: list[ModelName], promotion: str, sample: float = 1.0
) -> tuple[Learner, list[tuple[int, str]]]:
    """Phishing through a learner with ``challengers``; the learner, and the
    promotions ``(label, new champion)`` it made."""
    settings = Settings(
        challengers=",".join(challengers),
        promotion=promotion,
        promotion_min_labels=200,
        challenger_sample=sample,
    )
    learner = Learner(initial_state(settings), 0)
    learner.configure(settings)
    learner.wrote(1)  # the first version with the challengers
    promotions = []
    for i, (x, y) in enumerate(datasets.Phishing()):
        record = learner.scored(x, str(i), sample)
        event = TrainingEvent(event_id=str(i), label=y, label_at=0.0)
        learned = learner.learn([(i, event)], [record], max_delay=1e12, wait=0, now=0.0)
        if learned.outcomes[Outcome.JOINED] != 1:
            raise AssertionError(f"label {i}: {dict(learned.outcomes)}")
        if (name := learner.earned()) is not None:
            learner.promote(name)
            learner.state.began(learner.version + 1)
            promotions.append((i + 1, name))
        learner.wrote(learner.version + 1)
    return learner, promotions


def cost(name: ModelName, repeats: int, sample: float = 1.0) -> float:
    """Median µs per event a challenger adds (its shadow prediction, kept
    in the event's record, and its learning of the label), from the learner
    with it against the learner alone, alternated; with ``sample``, events
    scored in shadow (and so compared) are that share."""
    times: dict[str, list[float]] = {"alone": [], "with": []}
    for _ in range(repeats):
        for key, names in (("alone", []), ("with", [name])):
            began = time.perf_counter()
            run(names, "manual", sample)
            times[key].append((time.perf_counter() - began) / 1250 * 1e6)
    alone, with_it = sorted(times["alone"]), sorted(times["with"])
    return with_it[len(with_it) // 2] - alone[len(alone) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.challengers", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--sample", type=float, default=0.1, help="EDDY_CHALLENGER_SAMPLE for the last column"
    )
    args = parser.parse_args()
    learner, _ = run(CHALLENGERS, "manual")
    state = learner.state
    assert state.champion is not None
    rows: list[tuple[str, dict[str, Any]]] = [(state.model.name, state.champion.report())]
    rows += [(n, c.quality.report()) for n, c in state.challengers.items()]
    print("Phishing, 1,250 events, each scored (challengers in shadow) then labelled at once\n")
    print(
        "| pipeline | accuracy | ROC AUC | River's published figure | µs per event | "
        f"µs per event, {args.sample:.0%} in shadow |"
    )
    print("|---|---|---|---|---|---|")
    costs: dict[str, tuple[str, str]] = {
        name: (
            f"{cost(name, args.repeats):,.0f}",
            f"{cost(name, args.repeats, args.sample):,.0f}",
        )
        for name in CHALLENGERS
    }
    for name, quality in rows:
        every, some = costs.get(name, ("(champion)", ""))
        print(
            f"| `{name}` | {quality['accuracy']:.2%} | {quality['roc_auc']:.2%} | "
            f"{PUBLISHED.get(name, '')} | {every} | {some} |"
        )
    _, promotions = run(CHALLENGERS, "auto")
    print(f"\nwith EDDY_PROMOTION=auto (min 200 labels, alpha 0.01): promotions {promotions}")


if __name__ == "__main__":
    main()
