from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from app import catalog
from app.errors import InvalidEvent
from app.intake import Message, dead_letter
from app.model import OnlineModel
from app.pending import decode
from app.scoring import decode_features, score_batch
from app.selection import sampled
from app.serving import ServedModel
from app.settings import Settings
from schemas import DeadLetterReason, Source

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def message(value: bytes | None, offset: int = 0, key: bytes | None = b"k") -> Message:
    return Message(key, value, "features", 2, offset, 0.0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, DeadLetterReason.INVALID_JSON),
        (b"{not json", DeadLetterReason.INVALID_JSON),
        (b'{"event_id": "e", "features": 3}', DeadLetterReason.SCHEMA_VIOLATION),
        (b'{"features": {}}', DeadLetterReason.MISSING_EVENT_ID),
        (b'{"event_id": "e", "features": {"x": NaN}}', DeadLetterReason.NON_FINITE_VALUE),
        (b'{"event_id": "e", "features": {"x": -Infinity}}', DeadLetterReason.NON_FINITE_VALUE),
        (b'{"event_id": "e", "features": {"x": 1e999}}', DeadLetterReason.NON_FINITE_VALUE),
        (
            json.dumps({"event_id": "e", "features": {"p": "x" * 300}}).encode(),
            DeadLetterReason.OVERSIZE_PAYLOAD,
        ),
        (
            json.dumps({"event_id": "e", "features": {f"f{i}": 1 for i in range(4)}}).encode(),
            DeadLetterReason.TOO_MANY_FEATURES,
        ),
    ],
)
def test_each_bad_input_has_its_reason(
    raw: bytes | None, reason: DeadLetterReason, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(max_payload_bytes=256, max_event_features=3)
    with pytest.raises(InvalidEvent) as caught:
        decode_features(message(raw), settings)
    assert caught.value.reason is reason


def test_dead_letter_keeps_coordinates_and_raw_bytes() -> None:
    raw = b"\xff\xfe not utf-8"
    error = InvalidEvent(DeadLetterReason.INVALID_JSON, "bad")
    letter = dead_letter(message(raw, offset=41), error, NOW, max_payload_bytes=5)
    assert letter.source == Source(topic="features", partition=2, offset=41)
    assert letter.payload_encoding == "base64" and letter.payload_truncated
    assert letter.payload == "//4gbm8="  # the first 5 bytes
    assert letter.key == "k" and letter.at == NOW


def test_every_message_gets_a_prediction_or_a_dead_letter(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    served = ServedModel(
        OnlineModel("logistic-regression", catalog.build("logistic-regression")), 7
    )
    served.model.learn({"x": 1.0}, True)
    messages = [
        message(b'{"event_id": "a", "features": {"x": 1.0, "c": "red"}}', 0),
        message(b"oops", 1),
        message(b'{"event_id": "b", "features": {"x": -1.0, "gone": null}}', 2),
    ]
    batch = score_batch(messages, served, settings, NOW)

    assert [p.event_id for p in batch.predictions] == ["a", "b"]
    assert [d.source.offset for d in batch.dead_letters] == [1]
    first = batch.predictions[0]
    assert first.model == "logistic-regression" and first.model_version == 7
    assert first.probabilities is not None and set(first.probabilities) == {"false", "true"}
    assert first.prediction is True
    event_id, raw = batch.pending[1]
    stored = decode(raw)
    assert event_id == "b" and stored.features == {"x": -1.0, "gone": None}
    assert stored.version == 7 and stored.scored_at == NOW.timestamp()


def test_challengers_score_their_sample_in_shadow_and_only_the_champion_is_published(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(challenger_sample=0.5)
    champion = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    tree = OnlineModel("hoeffding-tree", catalog.build("hoeffding-tree"))
    for i in range(300):
        x = float(i % 7 - 3)
        champion.learn({"x": x}, x > 0)
        tree.learn({"x": x}, x < 0)  # the opposite concept: its predictions differ
    served = ServedModel(champion, 3, shadows={"hoeffding-tree": tree})
    ids = [f"s{i}" for i in range(40)]
    messages = [
        message(f'{{"event_id": "{e}", "features": {{"x": 2.0}}}}'.encode(), i)
        for i, e in enumerate(ids)
    ]
    batch = score_batch(messages, served, settings, NOW)

    assert all(p.model == "logistic-regression" and p.prediction is True for p in batch.predictions)
    records = {event_id: decode(raw) for event_id, raw in batch.pending}
    in_sample = {e for e in ids if sampled(e, 0.5)}
    assert 0 < len(in_sample) < len(ids)
    assert {e for e, r in records.items() if r.shadow} == in_sample
    for e in in_sample:
        assert records[e].shadow["hoeffding-tree"] == tree.predict({"x": 2.0})
        assert records[e].shadow["hoeffding-tree"].label is False
    assert batch.shadow == {"hoeffding-tree": len(in_sample)}
    # Without keeping (a file, an HTTP request), nothing is scored in shadow.
    assert not score_batch(messages, served, settings, NOW, keep=False).shadow


def test_only_the_kept_share_of_events_keeps_its_features(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(pending_sample=0.25)
    served = ServedModel(
        OnlineModel("logistic-regression", catalog.build("logistic-regression")), 1
    )
    ids = [f"k{i}" for i in range(80)]
    messages = [
        message(f'{{"event_id": "{e}", "features": {{"x": 1.0}}}}'.encode(), i)
        for i, e in enumerate(ids)
    ]
    batch = score_batch(messages, served, settings, NOW)
    assert len(batch.predictions) == 80  # every event is predicted
    assert [e for e, _ in batch.pending] == [e for e in ids if sampled(e, 0.25)]
    assert sum(sum(w["x"].values()) for w in batch.windows.values()) == 80  # drift: all


def test_compressed_records_are_smaller_and_read_the_same(
    make_settings: Callable[..., Settings],
) -> None:
    served = ServedModel(
        OnlineModel("logistic-regression", catalog.build("logistic-regression")), 2
    )
    features = ", ".join(f'"feature_{i}": {i * 0.731:.4f}' for i in range(20))
    messages = [message(f'{{"event_id": "z", "features": {{{features}}}}}'.encode())]
    plain = score_batch(messages, served, make_settings(), NOW).pending[0][1]
    packed = score_batch(messages, served, make_settings(pending_compression="zlib"), NOW)
    raw = packed.pending[0][1]
    assert raw[:1] == b"\x78" and len(raw) < 0.8 * len(plain)
    assert decode(raw) == decode(plain)
