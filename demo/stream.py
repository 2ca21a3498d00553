"""Datasets as the worker sees them: feature events, and labels that arrive
``delay`` events later, in River's own question-and-answer order
(``river.stream.simulate_qa``), so the worker can be held to
``progressive_val_score`` with the same ``delay``.

>>> events = qa_events(phishing(), delay=2, prefix="p", limit=3)
>>> [f"{topic}:{event['event_id']}" for topic, event in events]
['features:p-0', 'features:p-1', 'labels:p-0', 'features:p-2', 'labels:p-1', 'labels:p-2']
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from river import datasets, stream
from river.datasets import synth

Sample = tuple[dict[str, Any], Any]
QaEvent = tuple[str, dict[str, Any]]
"""``("features", FeatureEvent fields)`` or ``("labels", LabelEvent fields)``."""


def phishing() -> Iterable[Sample]:
    """River's bundled Phishing dataset: 1,250 web pages, is it phishing?"""
    dataset: Iterable[Sample] = datasets.Phishing()
    return dataset


def sea_drift(n: int = 20_000, seed: int = 42) -> Iterator[Sample]:
    """SEA with an abrupt concept drift half-way (variant 0, then 3).

    Two generators are chained: ``ConceptDriftStream(width=1)`` overflows.
    """
    before = synth.SEA(variant=0, seed=seed).take(n // 2)
    after = synth.SEA(variant=3, seed=seed + 1).take(n - n // 2)
    for x, y in itertools.chain(before, after):
        yield {f"sea_{k}": v for k, v in x.items()}, y


def qa_events(
    samples: Iterable[Sample], delay: int | None, prefix: str, limit: int | None = None
) -> Iterator[QaEvent]:
    """Feature events, each label ``delay`` events after its features."""
    if limit is not None:
        samples = itertools.islice(samples, limit)
    for i, x, y in stream.simulate_qa(samples, moment=None, delay=delay):
        event_id = f"{prefix}-{i}"
        if y is None:
            yield "features", {"event_id": event_id, "features": x}
        else:
            yield "labels", {"event_id": event_id, "label": y}
