"""The promotion test, on simulated per-label losses (pure, seeded)."""

from __future__ import annotations

import random

from app.learner import Learner, LearnerState, Outcome
from app.selection import SignTest, sampled
from app.settings import Settings
from app.training import initial_state
from schemas import FeatureValue, TrainingEvent


def run(p_champion: float, p_challenger: float, labels: int, seed: int) -> bool:
    """Whether a challenger erring with ``p_challenger`` (the champion
    with ``p_champion``, independently) gets promoted within ``labels``."""
    rng = random.Random(seed)
    test = SignTest(alpha=0.01, effect=0.1)
    for _ in range(labels):
        test.update(float(rng.random() < p_champion), float(rng.random() < p_challenger))
        decision = test.decision(min_labels=200)
        if decision == "promote":
            return True
        if decision == "reject":
            test.restart()
    return False


def test_a_challenger_no_better_is_seldom_promoted_however_long_it_is_tested() -> None:
    # 400 streams of 20,000 labels where both err 20% of the time: checked
    # after every label, restarted after every "no better".
    promoted = sum(run(0.2, 0.2, 20_000, seed) for seed in range(400))
    print(f"false promotions: {promoted} of 400 (alpha 0.01)")
    # Wald's bound: alpha / (1 - beta) = 1.25% over the whole stream; 3% of
    # 400 allows for chance. Comparing the two accuracies after every label
    # would promote in most of these streams.
    assert promoted <= 12


def test_a_better_challenger_is_promoted() -> None:
    promoted = sum(run(0.25, 0.15, 5_000, seed) for seed in range(100))
    assert promoted >= 95


def test_a_worse_challenger_is_never_promoted_and_the_test_starts_over() -> None:
    test = SignTest(alpha=0.01, effect=0.1)
    rng = random.Random(1)
    for _ in range(2000):
        test.update(float(rng.random() < 0.1), float(rng.random() < 0.3))
        if test.decision(min_labels=200) == "reject":
            test.restart()
        assert test.decision(min_labels=200) != "promote"
    assert test.restarts >= 5


def linear_stream(n: int, seed: int) -> list[tuple[dict[str, FeatureValue], bool]]:
    """A linear concept a logistic regression learns in a few dozen labels
    and a Hoeffding tree only approximates, split by split."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        values = [rng.gauss(0, 1) for _ in range(8)]
        x: dict[str, FeatureValue] = {f"x{j}": v for j, v in enumerate(values)}
        rows.append((x, sum(v * (j + 1) for j, v in enumerate(values)) > 0))
    return rows


def learner_with(champion: str, challengers: str, promotion: str = "auto") -> Learner:
    settings = Settings(
        model=champion,
        challengers=challengers,
        promotion=promotion,
        promotion_min_labels=300,
    )
    learner = Learner(initial_state(settings), 0)
    learner.configure(settings)
    return learner


def feed(
    learner: Learner, rows: list[tuple[dict[str, FeatureValue], bool]], share: float = 1.0
) -> list[int]:
    """Labels after which the learner said a challenger earned its place
    (promoting it, as ``Training`` does)."""
    promoted = []
    learner.wrote(learner.version + 1)  # the first version with its challengers
    for i, (x, y) in enumerate(rows):
        # Scored by the learner's process (champion, challengers in shadow),
        # labelled at once, then a snapshot (a version) as ``Training`` writes.
        record = learner.scored(x, str(i), share)
        event = TrainingEvent(event_id=str(i), label=y, label_at=0.0)
        out = learner.learn([(i, event)], [record], max_delay=1e12, wait=0, now=0.0)
        assert out.outcomes == {Outcome.JOINED: 1}
        if (name := learner.earned()) is not None:
            learner.promote(name)
            learner.state.began(learner.version + 1)
            promoted.append(i + 1)
        learner.wrote(learner.version + 1)
    return promoted


def test_a_challenger_that_is_better_takes_the_champions_place_once() -> None:
    learner = learner_with("hoeffding-tree", "logistic-regression")
    promoted = feed(learner, linear_stream(3000, seed=4))
    assert len(promoted) == 1 and 300 <= promoted[0] < 3000
    state = learner.state
    assert state.model.name == "logistic-regression"
    assert list(state.challengers) == ["hoeffding-tree"]  # the old champion challenges now
    # Every model learned every label once: the new champion as a challenger first.
    assert (
        state.learned == 3000 and state.challengers["hoeffding-tree"].learned == 3000 - promoted[0]
    )


def test_a_sample_compares_a_share_of_labels_and_every_label_is_learned() -> None:
    learner = learner_with("hoeffding-tree", "logistic-regression", "manual")
    rows = linear_stream(3000, seed=4)
    feed(learner, rows, 0.25)
    state = learner.state
    contender = state.challengers["logistic-regression"]
    expected = sum(sampled(str(i), 0.25) for i in range(3000))
    assert 600 < expected < 900
    assert contender.learned == state.learned == 3000
    assert contender.test.compared == contender.quality.count == expected
    assert state.champion is not None and state.champion.count == expected
    # The challenger learned as it does with every label compared: it is
    # the same model (comparing only predicts).
    full = learner_with("hoeffding-tree", "logistic-regression", "manual")
    feed(full, rows)
    x = rows[0][0]
    assert full.state.challengers["logistic-regression"].model.predict(
        x
    ) == contender.model.predict(x)


def test_with_manual_promotion_the_test_only_reports() -> None:
    learner = learner_with("hoeffding-tree", "logistic-regression", promotion="manual")
    assert feed(learner, linear_stream(3000, seed=4)) == []
    test = learner.state.challengers["logistic-regression"].test
    assert test.decision(300) == "promote" and test.better > 3 * test.worse
    assert (
        learner.state.meta()["challengers"]["logistic-regression"]["test"]["better"] == test.better
    )


def test_challengers_follow_the_settings_and_survive_a_snapshot() -> None:
    learner = learner_with(
        "logistic-regression", "hoeffding-adaptive-tree,bandit-logistic-regression"
    )
    feed(learner, linear_stream(200, seed=1))
    state = LearnerState.loads(*learner.state.dumps())
    assert {n: c.learned for n, c in state.challengers.items()} == {
        "hoeffding-adaptive-tree": 200,
        "bandit-logistic-regression": 200,
    }
    again = Learner(state, 1)
    again.configure(Settings(challengers="bandit-logistic-regression"))
    assert list(state.challengers) == ["bandit-logistic-regression"]  # one dropped, one kept
    again.configure(Settings())
    assert state.challengers == {} and state.champion is None
