"""Explanations through a running worker: in each prediction, and the model
described on ``GET /model``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from river import datasets

from app.settings import Settings
from app.store import Store
from demo.stream import qa_events
from tests.harness import Reader, Worker, as_records, eventually, produce, wait_assigned

pytestmark = pytest.mark.integration


async def test_predictions_explain_themselves_and_the_model_is_described(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings(explain="top", explain_top=3)
    worker = spawn(settings)
    await wait_assigned([worker], {settings.topic_features: 4, settings.topic_training: 1})
    events = list(qa_events(datasets.Phishing(), 10, "x", limit=300))
    await produce(settings.kafka_bootstrap, as_records(events, settings), rate=1000)
    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        predictions = await reader.until("300 predictions", lambda v: len(v) >= 300, 30)

    explained = [p["explanation"] for p in predictions]
    assert all(len(e["contributions"]) == 3 for e in explained)
    assert all(e["path"] is None and isinstance(e["score"], float) for e in explained)
    # Later predictions are made by a model that learned: its weights are not all zero.
    assert any(v != 0 for v in explained[-1]["contributions"].values())

    async def learned() -> dict[str, object] | None:
        about = worker.get("/model")
        return about if about and about["learned"] == 300 else None

    about = await eventually("the model described with every label learned", learned, 30)
    assert about["live"] is True and about["name"] == settings.model
    # Phishing has 9 features: all of them, fewer than the 10 largest shown.
    assert isinstance(about["top_weights"], dict) and len(about["top_weights"]) == 9
    assert "LogisticRegression" in str(about["pipeline"])
