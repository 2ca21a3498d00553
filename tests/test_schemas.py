from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas import FeatureEvent, LabelEvent
from schemas.__main__ import CONTRACTS, DEFAULT_DIR, main, render


def test_committed_json_schemas_are_current(tmp_path: Path) -> None:
    main([str(tmp_path)])
    for topic, model in CONTRACTS.items():
        name = f"{topic}.schema.json"
        assert (tmp_path / name).read_text() == render(model)
        assert (DEFAULT_DIR / name).read_text() == render(model), (
            f"run eddy-schemas: {name} is stale"
        )


def test_feature_values_keep_their_types() -> None:
    event = FeatureEvent.model_validate_json(
        b'{"event_id": "e", "features": {"n": 2, "f": 0.5, "b": true, "s": "x", "z": null},'
        b' "occurred_at": "2026-01-02T03:04:05Z"}'
    )
    assert event.features == {"n": 2.0, "f": 0.5, "b": True, "s": "x", "z": None}
    assert isinstance(event.features["b"], bool)
    assert event.occurred_at is not None and event.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"event_id": "e", "features": {"x": Infinity}}',
        b'{"event_id": "e", "features": {"x": [1]}}',
        b'{"event_id": "", "features": {}}',
        b'{"event_id": "e", "features": {"x": 1}, "occurred_at": "2026-01-02T03:04:05"}',
    ],
)
def test_feature_events_refuse(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        FeatureEvent.model_validate_json(raw)


@pytest.mark.parametrize(
    ("raw", "label"),
    [(b"true", True), (b"1", 1), (b"2.5", 2.5), (b'"spam"', "spam")],
)
def test_labels_keep_their_types(raw: bytes, label: object) -> None:
    event = LabelEvent.model_validate_json(b'{"event_id": "e", "label": ' + raw + b"}")
    assert event.label == label and type(event.label) is type(label)


def test_integer_labels_beyond_64_bits_are_numbers_not_classes() -> None:
    # A class must fit 64 bits (it is stored and served as JSON); a larger
    # integer is read as a number, which a classifier refuses as a label.
    fits = LabelEvent.model_validate_json(b'{"event_id": "e", "label": 9223372036854775807}')
    assert fits.label == 2**63 - 1 and isinstance(fits.label, int)
    big = LabelEvent.model_validate_json(b'{"event_id": "e", "label": 9223372036854775808}')
    assert isinstance(big.label, float)
