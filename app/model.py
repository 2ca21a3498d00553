"""The model wrapper: one River pipeline behind River's own verbs.

>>> from app import catalog
>>> model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
>>> model.kind
'classifier'
>>> model.learn({"x": 1.0, "colour": "red", "gone": None}, True)
0
>>> model.predict({"x": 1.0, "colour": "red"}).label
True

The model's vocabulary, its feature names and (name, category) pairs, is
capped: past ``max_features``, new ones are left out of what it learns.

>>> small = OnlineModel("logistic-regression", catalog.build("logistic-regression"), 2)
>>> small.learn({"x": 1.0, "colour": "red", "y": 2.0}, True)
1
>>> sorted(map(str, small.vocabulary))
["('colour', 'red')", 'x']
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from river import base, compose, linear_model, optim

from app import _encoder, pickles
from app.catalog import MixedEncoder
from app.catalog import present as present  # where the model's users find it
from app.errors import BadSnapshot, ModelError
from schemas import FeatureValue, Label

Kind = Literal["classifier", "regressor"]
T = TypeVar("T")


def unpickle(blob: bytes, cls: type[T], what: str, expected: str) -> T:
    """The ``cls`` pickled in ``blob``, or ``BadSnapshot`` saying why not."""
    # Only through the restricted unpickler: a snapshot's signature is
    # checked before (``app.signing``), its classes here.
    try:
        found = pickles.loads(blob)
    except BadSnapshot:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # River's Rust parts panic with a BaseException
        # The error's kind only: its message may quote the snapshot's contents.
        raise BadSnapshot(f"unreadable {what}: {type(exc).__name__}") from None
    if not isinstance(found, cls):
        raise BadSnapshot(f"not {expected}: {type(found).__name__}")
    return found


Features = dict[str, FeatureValue]


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the model said: a label or value, and class probabilities in the
    model's own order (classifiers only; empty before the model knows a class)."""

    label: Label | None
    probabilities: tuple[tuple[Label, float], ...] | None = None

    def proba_dict(self) -> dict[Label, float] | None:
        return None if self.probabilities is None else dict(self.probabilities)


def logistic_parts(pipeline: Any) -> tuple[MixedEncoder, Any] | None:
    """The encoder and the model of the catalog's ``logistic-regression``
    (``MixedEncoder() | LogisticRegression()``, any optimizer, the log loss),
    or None for any other pipeline."""
    if not isinstance(pipeline, compose.Pipeline) or len(pipeline.steps) != 2:
        return None
    encoder, linear = pipeline.steps.values()
    if (
        type(encoder) is MixedEncoder
        and type(linear) is linear_model.LogisticRegression
        and type(linear.loss) is optim.losses.Log
    ):
        return encoder, linear
    return None


class OnlineModel:
    """A River pipeline that predicts before it learns."""

    def __init__(self, name: str, pipeline: Any, max_features: int | None = None) -> None:
        self.name = name
        self.pipeline = pipeline
        self.kind: Kind = "classifier" if isinstance(pipeline, base.Classifier) else "regressor"
        self.max_features = max_features
        """Most names and (name, category) pairs the model learns (None: no cap)."""
        self.vocabulary: set[str | tuple[str, str]] = set()
        """The names and (name, category) pairs learned so far."""
        self._logistic = logistic_parts(pipeline)

    def __getstate__(self) -> dict[str, Any]:
        # Snapshots hold what they held before the shortcut: it is found again.
        state = self.__dict__.copy()
        del state["_logistic"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Written before the vocabulary was kept: it fills as features come.
        state.setdefault("max_features", None)
        state.setdefault("vocabulary", set())
        self.__dict__.update(state)
        self._logistic = logistic_parts(self.pipeline)

    def predict(self, x: Features) -> Prediction:
        if self._logistic is not None and not compose.Pipeline._LEARN_UNSUPERVISED_DURING_PREDICT:
            return self._predict_logistic(x, *self._logistic)
        try:
            if self.kind == "classifier":
                proba = self.pipeline.predict_proba_one(present(x))
                # River's own tie-break: the first class of the highest probability.
                label = max(proba, key=proba.get) if proba else None
                return Prediction(label, tuple((k, float(p)) for k, p in proba.items()))
            value = float(self.pipeline.predict_one(present(x)))
        except Exception as exc:
            raise ModelError(f"{self.name} could not score the event: {exc!r}") from exc
        if not math.isfinite(value):
            raise ModelError(f"{self.name} predicted a non-finite value ({value})")
        return Prediction(value)

    def _predict_logistic(self, x: Features, encoder: MixedEncoder, linear: Any) -> Prediction:
        """``predict`` of ``MixedEncoder() | LogisticRegression()``, bit for
        bit, without the pipeline's and River's per-call Python: the compiled
        encoder, River's own dot product, River's sigmoid in C."""
        try:
            p = _encoder.logistic(linear._raw_dot_one(encoder.transform(x, skip_none=True)))
        except Exception as exc:
            raise ModelError(f"{self.name} could not score the event: {exc!r}") from exc
        q = 1.0 - p
        # River's tie-break, as in ``predict``: False unless True is higher.
        return Prediction(p > q, ((False, q), (True, p)))

    def learn(self, x: Features, y: Label) -> int:
        """Learn one event; how many of its features were left out because
        the vocabulary is full."""
        features = present(x)
        dropped = 0
        if self.max_features is not None:
            features, dropped = self._admit(features)
        try:
            self.pipeline.learn_one(features, y)
        except Exception as exc:
            raise ModelError(f"{self.name} could not learn the event: {exc!r}") from exc
        return dropped

    def _admit(self, x: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """``x`` without the names and categories the vocabulary has no room
        for: every one the model learns grows it (and its snapshots) for good."""
        vocabulary = self.vocabulary
        room = cast(int, self.max_features) - len(vocabulary)
        kept: dict[str, Any] = {}
        dropped = 0
        for name, value in x.items():
            key = (name, value) if isinstance(value, str) else name
            if key not in vocabulary:
                if room <= 0:
                    dropped += 1
                    continue
                vocabulary.add(key)
                room -= 1
            kept[name] = value
        return kept, dropped

    def accepts(self, y: Label) -> bool:
        """Whether a label's type fits the model: classes for classifiers
        (bool, int, str), numbers for regressors."""
        if self.kind == "classifier":
            return not isinstance(y, float)
        return isinstance(y, int | float) and not isinstance(y, bool)

    def copy(self) -> OnlineModel:
        """An independent copy."""
        return OnlineModel.loads(self.dumps())

    def dumps(self) -> bytes:
        """The model alone, as serving loads it (vocabulary and cap included)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def loads(cls, blob: bytes) -> OnlineModel:
        """A model from ``dumps``, or ``BadSnapshot``."""
        return unpickle(blob, OnlineModel, "model", "a model")
