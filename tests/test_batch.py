"""``eddy score``: a file of events, bad lines among them, scored by the
model version in Redis, as the stream would score them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from app.batch import lines
from app.settings import Settings
from app.store import Store
from app.training import Training, bootstrap
from schemas import TrainingEvent
from tests.harness import run_eddy
from tests.test_training import learn, score, untrained

pytestmark = pytest.mark.integration


def eddy_score(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return run_eddy(settings, "score", *args)


async def test_a_file_is_scored_by_the_served_version_and_bad_lines_set_aside(
    make_settings: Callable[..., Settings], store: Store, tmp_path: Path
) -> None:
    settings = make_settings(snapshot_interval_seconds=0.001)
    served = await bootstrap(store, untrained())
    training = Training(store, settings, served)
    for i in range(3):  # versions 1 to 3: x=1 is True
        await score(store, f"e{i}")
        await learn(training, [(i, TrainingEvent(event_id=f"e{i}", label=True, label_at=1e9))])
        await training.flush()  # the version, if ``learn`` came within the interval
    assert served.version == 3

    events = tmp_path / "events.jsonl"
    rows = [json.dumps({"event_id": f"b{i}", "features": {"x": float(i)}}) for i in range(1200)]
    rows[5] = '{"event_id": "b5", "features": {"x": NaN}}'
    rows[700] = "not json"
    events.write_text("\n".join(rows) + "\n")
    out, bad = tmp_path / "predictions.jsonl", tmp_path / "bad.jsonl"
    done = eddy_score(settings, str(events), "--output", str(out), "--dead-letter", str(bad))
    assert done.returncode == 0, done.stderr
    assert "1200 lines, 1198 predicted by logistic-regression version 3" in done.stderr
    predictions = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(predictions) == 1198 and {p["model_version"] for p in predictions} == {3}
    model = served.model
    for p in predictions[:50]:
        x = float(p["event_id"][1:])
        expected = model.predict({"x": x})
        assert p["prediction"] == expected.label
        assert p["probabilities"] == {json.dumps(k): v for k, v in expected.probabilities or ()}
    letters = [json.loads(line) for line in bad.read_text().splitlines()]
    assert [(d["reason"], d["source"]["offset"]) for d in letters] == [
        ("non_finite_value", 6),
        ("invalid_json", 701),
    ]

    # A chosen version, and CSV: version 1 (kept: the history holds it).
    table = tmp_path / "events.csv"
    table.write_text("event_id,x,colour\nc1,1.5,red\nc2,,blue\n")
    done = eddy_score(settings, str(table), "-o", str(out), "--version", "1")
    assert done.returncode == 0, done.stderr
    rows_out = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(p["event_id"], p["model_version"]) for p in rows_out] == [("c1", 1), ("c2", 1)]


async def test_labels_are_learned_only_when_asked_and_never_written_back(
    make_settings: Callable[..., Settings], store: Store, tmp_path: Path
) -> None:
    settings = make_settings(snapshot_interval_seconds=0.001, batch_max_events=10)
    served = await bootstrap(store, untrained())
    training = Training(store, settings, served)
    for i in range(3):  # x=1 is True, version 3 after 3 labels
        await score(store, f"e{i}")
        await learn(training, [(i, TrainingEvent(event_id=f"e{i}", label=True, label_at=1e9))])
        # A version per label: written by ``learn`` if the interval has
        # passed since the last (not within the same millisecond), else here.
        await training.flush()
    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(json.dumps({"event_id": f"b{i}", "features": {"x": 1.0}}) + "\n" for i in range(60))
    )
    labels = tmp_path / "labels.jsonl"
    rows = [json.dumps({"event_id": f"b{i}", "label": False}) for i in range(60)]
    rows[1] = json.dumps({"event_id": "b1", "label": 0.5})  # a number: no class of a classifier
    rows += [rows[0], json.dumps({"event_id": "nowhere", "label": True}), "not json"]
    labels.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.jsonl"

    def p_true() -> list[tuple[int, float]]:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        return [(r["model_learned"], r["probabilities"]["true"]) for r in rows]

    plain = eddy_score(settings, str(events), "-o", str(out))
    assert plain.returncode == 0, plain.stderr
    before = p_true()
    assert len(set(before)) == 1 and before[0][1] > 0.5  # never learns unless asked

    done = eddy_score(settings, str(events), "-o", str(out), "--labels", str(labels))
    assert done.returncode == 0, done.stderr
    assert (
        "learned 59 of 61 labels (the model in Redis is unchanged); 1 with no event scored, "
        "1 refused by the model, 1 bad lines" in done.stderr
    )
    learning = p_true()
    # Each batch of 10 is scored, then its labels learned: the first batch as
    # without labels, each later one by a model that learned the ones before.
    assert learning[:10] == before[:10]
    assert [learned for learned, _ in learning[::10]] == [3, 12, 22, 32, 42, 52]
    assert learning[-1][1] < learning[10][1] < before[0][1]

    assert await store.head_version(settings.model) == 3  # nothing written back
    again = eddy_score(settings, str(events), "-o", str(out))
    assert again.returncode == 0 and p_true() == before


def test_csv_rows_become_the_contracts_events(tmp_path: Path) -> None:
    table = tmp_path / "export.CSV"  # a spreadsheet's: a byte-order mark, upper-case suffix
    text = "event_id,x,flag,name,odd\nr1,1.5,true,007,nan\nr2,,false, 7 ,x\nr3,1,true,a,b,extra\n"
    table.write_bytes(text.encode("utf-8-sig"))
    rows = [json.loads(line) for line in lines(table)]
    assert rows[0] == {
        "event_id": "r1",
        "features": {"x": 1.5, "flag": True, "name": 7.0, "odd": "nan"},
    }
    assert rows[1] == {"event_id": "r2", "features": {"flag": False, "name": " 7 ", "odd": "x"}}
    assert "event_id" not in rows[2]  # more cells than names: refused, not guessed


async def test_no_model_in_redis_is_a_clear_error(
    make_settings: Callable[..., Settings], store: Store, tmp_path: Path
) -> None:
    settings = make_settings()
    events = tmp_path / "events.jsonl"
    events.write_text('{"event_id": "a", "features": {"x": 1}}\n')
    done = eddy_score(settings, str(events), "--output", str(tmp_path / "out.jsonl"))
    assert done.returncode == 1 and "no version of logistic-regression in Redis" in done.stderr
    missing = eddy_score(settings, str(tmp_path / "nowhere.jsonl"), "-o", str(tmp_path / "o"))
    assert missing.returncode == 2 and "no file" in missing.stderr
