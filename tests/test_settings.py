from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import Settings


def test_environment_is_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDDY_MODEL", "hoeffding-tree")
    monkeypatch.setenv("EDDY_BATCH_MAX_EVENTS", "64")
    settings = Settings()
    assert settings.model == "hoeffding-tree" and settings.batch_max_events == 64
    assert settings.label_max_delay == settings.pending_ttl_seconds


@pytest.mark.parametrize(
    "bad",
    [
        {"model": "gpt"},
        {"batch_max_events": 0},
        {"pending_ttl_seconds": 10, "label_max_delay_seconds": 20},
        {"snapshot_interval_seconds": 0},
        {"unknown_knob": 1},
        {"role": "trainer"},
    ],
)
def test_nonsense_is_refused_at_start_up(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)  # type: ignore[arg-type]


def test_learners_have_a_consumer_group_of_their_own() -> None:
    # Same training topic, so scorers forward to it; another group, so the
    # learner's subscription never mixes with the scorers' in one group.
    scorer, learner = Settings(role="scorer"), Settings(role="learner")
    assert scorer.group_id == Settings().group_id == "eddy"
    assert learner.group_id == "eddy-learner"
    assert scorer.topic_training == learner.topic_training == "eddy-training"
    assert (scorer.scores, scorer.learns, learner.scores, learner.learns) == (
        True,
        False,
        False,
        True,
    )


def test_an_empty_token_is_no_token() -> None:
    assert Settings(admin_token="", client_token="").admin_token is None
    assert Settings(client_token="").client_token is None
