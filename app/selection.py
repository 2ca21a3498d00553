"""Challengers: other pipelines that learn from the champion's labels, and
the sequential test that decides when one has earned the champion's place.
Pure.

Every event in the sample is scored by each challenger in shadow, where
the champion scores it, with the same features at the same moment; when
its label is joined, the challenger's shadow prediction and the champion's
served one are compared by their per-label losses (each learns the label
after, exactly once). Only the labels
where they differ say anything; on those, a challenger no better than the
champion is better half the time. Wald's sequential probability ratio test
weighs ``p = 1/2`` against ``p = 1/2 + effect``: it promotes when the
likelihood ratio passes ``(1 - beta) / alpha``, and starts over when it
falls under ``beta / (1 - alpha)``. Checked after every label, it still
promotes a challenger that is no better with probability at most about
``alpha`` (Wald's bound), where comparing two accuracies now and then
would not. Each new start spends less of ``alpha`` (the k-th run gets
``6 alpha / (pi^2 k^2)``, which sums to ``alpha``), so starting over for
as long as the stream lasts keeps that bound.

>>> test = SignTest(alpha=0.01, effect=0.1)
>>> for _ in range(60):
...     test.update(champion=1.0, challenger=0.0)
>>> test.better, test.worse, test.decision(min_labels=50)
(60, 0, 'promote')
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from app.errors import ModelError
from app.model import Features, Kind, OnlineModel, Prediction
from app.quality import Quality
from app.settings import ModelName
from schemas import Label

BETA = 0.2
"""Chance of missing a challenger that is ``effect`` better, per run of the test."""


@dataclass(slots=True)
class SignTest:
    alpha: float
    effect: float
    better: int = 0
    """Labels where the challenger's loss was lower (this run of the test)."""
    worse: int = 0
    compared: int = 0
    """Labels compared (ties included), this run."""
    restarts: int = 0
    """Times the test concluded "no better" and started over."""

    @property
    def llr(self) -> float:
        p = 0.5 + self.effect
        return self.better * math.log(p / 0.5) + self.worse * math.log((1 - p) / 0.5)

    def update(self, champion: float, challenger: float) -> None:
        self.compared += 1
        if challenger < champion:
            self.better += 1
        elif challenger > champion:
            self.worse += 1

    @property
    def alpha_now(self) -> float:
        """This run's share of ``alpha``."""
        return self.alpha * 6 / (math.pi**2 * (self.restarts + 1) ** 2)

    def decision(self, min_labels: int) -> Literal["promote", "reject"] | None:
        """``promote`` (the challenger is better), ``reject`` (it is not:
        the caller starts over), or None (not known yet)."""
        alpha = self.alpha_now
        if self.llr <= math.log(BETA / (1 - alpha)):
            return "reject"
        if self.compared >= min_labels and self.llr >= math.log((1 - BETA) / alpha):
            return "promote"
        return None

    def restart(self) -> None:
        self.better = self.worse = self.compared = 0
        self.restarts += 1

    def report(self) -> dict[str, float]:
        return {
            "better": self.better,
            "worse": self.worse,
            "compared": self.compared,
            "llr": round(self.llr, 3),
            "restarts": self.restarts,
        }


@dataclass(slots=True)
class Contender:
    """A challenger: its model, its prequential quality, and its test
    against the champion."""

    model: OnlineModel
    quality: Quality
    test: SignTest
    learned: int = 0
    since: int = 0
    """The first model version whose shadow predictions count for it:
    those of events scored before it started (or before a promotion
    restarted the comparison) were made by another model."""

    def report(self) -> dict[str, object]:
        return {
            "model": self.model.name,
            "learned": self.learned,
            "quality": self.quality.report(),
            "test": self.test.report(),
        }


def sampled(event_id: str, share: float) -> bool:
    """Whether ``event_id`` is in a ``share`` of the events: by a hash of
    the id, so the same events every run and in every process.

    >>> sampled("e1", 1.0), sum(sampled(f"e{i}", 0.25) for i in range(10_000))
    (True, 2506)
    """
    return share >= 1.0 or zlib.crc32(event_id.encode()) < share * 2**32


def shadow_predict(
    shadows: Mapping[str, OnlineModel], features: Features, event_id: str, share: float
) -> dict[str, Prediction]:
    """Each challenger's prediction of an event, if it is in the ``share``
    scored in shadow. A challenger that cannot score it says nothing (and
    is not compared on its label); the champion's prediction is not touched.

    >>> from app import catalog
    >>> tree = OnlineModel("tree", catalog.build("hoeffding-tree"))
    >>> shadow_predict({"tree": tree}, {"x": 1.0}, "e1", 1.0)
    {'tree': Prediction(label=None, probabilities=())}
    >>> shadow_predict({"tree": tree}, {"x": 1.0}, "e1", 1e-9)
    {}
    """
    if not shadows or not sampled(event_id, share):
        return {}
    out = {}
    for name, model in shadows.items():
        try:
            out[name] = model.predict(features)
        except ModelError:
            continue
    return out


@dataclass(slots=True)
class Rules:
    """How challengers are judged (from the settings)."""

    loss: Literal["zero-one", "log"] = "zero-one"
    alpha: float = 0.01
    effect: float = 0.1
    min_labels: int = 1000
    auto: bool = True
    names: list[ModelName] = field(default_factory=list)


def label_loss(kind: Kind, y: Label, prediction: Prediction, loss: str) -> float:
    """The loss the test compares: 0/1 or log loss (classifiers), absolute
    error (regressors). A model with nothing to say loses."""
    if kind == "regressor":
        if prediction.label is None:
            return math.inf
        return abs(float(y) - float(prediction.label))
    if loss == "log":
        p = dict(prediction.probabilities or ()).get(y, 0.0)
        return -math.log(min(max(p, 1e-15), 1.0))
    return float(prediction.label is None or prediction.label != y)
