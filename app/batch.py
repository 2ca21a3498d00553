"""``eddy score INPUT --output OUTPUT``: a file of feature events scored by
the model a deployment serves (its newest version in Redis, or a chosen
one), by the stream's own code (``score_batch``), into a file of
predictions in the predictions contract. Never learns.

INPUT is JSON Lines (one event of the features contract a line) or CSV
(a header with ``event_id``, optionally ``occurred_at``, and a column per
feature: ``true``/``false`` as booleans, finite numbers as numbers, strings
otherwise, empty cells left out; a byte-order mark is allowed). A bad line
is reported, and written with its reason to the ``--dead-letter`` file (the
dead-letter contract) when one is given; the rest go on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from app.errors import BadSnapshot, EddyError, ModelError
from app.intake import Message
from app.scoring import score_batch
from app.serving import ServedModel
from app.settings import Settings
from app.store import Store
from app.training import served_model
from schemas import FeatureEvent, Label, LabelEvent


@dataclass(slots=True)
class Summary:
    lines: int = 0
    predicted: int = 0
    bad: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    learned: int = 0
    """Labels learned (with ``labels``)."""
    unlearned: int = 0
    """Labels the model refused (a type it cannot learn, or an error)."""


def labels_by_id(lines: Iterable[str | bytes]) -> tuple[dict[str, Label], int]:
    """Labels (JSON Lines of the labels contract) by event id, the first of
    each id, and how many non-blank lines the contract refused."""
    known: dict[str, Label] = {}
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            label = LabelEvent.model_validate_json(line)
        except ValueError:
            bad += 1
            continue
        known.setdefault(label.event_id, label.label)
    return known, bad


def read_labels(path: Path) -> tuple[dict[str, Label], int]:
    """A labels file's labels by event id (``labels_by_id``)."""
    with path.open(encoding="utf-8-sig") as handle:
        return labels_by_id(handle)


def _learn(
    batch: list[Message],
    ids: list[str],
    served: ServedModel,
    labels: dict[str, Label],
    summary: Summary,
) -> None:
    """Learn the labels of a scored batch's events, each once, with the
    features that were scored."""
    model = served.model
    for message, event_id in zip(batch, ids, strict=True):
        label = labels.pop(event_id, None)
        if label is None:
            continue
        if not model.accepts(label):
            summary.unlearned += 1
            continue
        try:
            model.learn(FeatureEvent.model_validate_json(message.value or b"").features, label)
        except ModelError:
            summary.unlearned += 1
            continue
        summary.learned += 1
        served.learned += 1


def _cell(value: str) -> bool | float | str:
    """A CSV cell as the contract's value: ``true``/``false`` as booleans,
    finite decimal numbers as numbers, anything else as it is."""
    if value in ("true", "false"):
        return value == "true"
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) and value.strip() == value else value


def lines(path: Path) -> Iterator[bytes]:
    """The input's events, a line each, as the features contract's JSON
    (a CSV row becomes one; a row with more cells than the header names
    becomes a record the contract refuses, with its reason)."""
    is_csv = path.suffix.lower() == ".csv"
    # utf-8-sig: a spreadsheet's export starts with a byte-order mark.
    with path.open(newline="" if is_csv else None, encoding="utf-8-sig") as handle:
        if not is_csv:
            for line in handle:
                if line.strip():
                    yield line.rstrip("\n").encode()
            return
        for row in csv.DictReader(handle):
            event: dict[str, Any] = {}
            features: dict[str, Any] = {}
            if None in row:  # more cells than the header names: refused, not guessed
                yield json.dumps({"row": row[None]}).encode()
                continue
            for name, value in row.items():
                if value is None or value == "":
                    continue
                if name in ("event_id", "occurred_at"):
                    event[name] = value
                else:
                    features[name] = _cell(value)
            yield json.dumps({**event, "features": features}).encode()


def score_file(
    path: Path,
    output: IO[str],
    served: ServedModel,
    settings: Settings,
    dead_letters: IO[str] | None = None,
    progress: bool | None = None,
    labels: dict[str, Label] | None = None,
) -> Summary:
    """Score every line of ``path`` into ``output`` (predictions, JSON
    Lines), a batch of ``EDDY_BATCH_MAX_EVENTS`` at a time; bad lines to
    ``dead_letters``. A progress bar on a terminal (``progress`` None).
    With ``labels`` (event id to label, consumed), each batch's labelled
    events are learned after the batch is scored."""
    summary = Summary()
    source = path.name
    batch: list[Message] = []

    def flush() -> None:
        now = datetime.now(UTC)
        scored = score_batch(batch, served, settings, now, keep=False)
        for p in scored.predictions:
            output.write(p.model_dump_json() + "\n")
        for d in scored.dead_letters:
            summary.reasons[d.reason.value] = summary.reasons.get(d.reason.value, 0) + 1
            if dead_letters is not None:
                dead_letters.write(d.model_dump_json() + "\n")
        summary.predicted += len(scored.predictions)
        if labels:
            ids = [p.event_id for p in scored.predictions]
            _learn(scored.scored, ids, served, labels, summary)
        summary.bad += len(scored.dead_letters)
        bar.update(len(batch))
        batch.clear()

    with tqdm(unit="event", disable=None if progress is None else not progress) as bar:
        for number, raw in enumerate(lines(path), start=1):
            batch.append(Message(None, raw, source, 0, number, time.time()))
            summary.lines += 1
            if len(batch) >= settings.batch_max_events:
                flush()
        if batch:
            flush()
    return summary


async def served(settings: Settings, version: int | None) -> ServedModel:
    """The deployment's model from Redis: its newest version, or ``version``;
    ``EddyError`` saying why when there is none to load."""
    store = Store.from_settings(settings)
    try:
        name = settings.model
        snapshot = await store.load_snapshot(name, version, state=False, shadow=False)
        if snapshot is None:
            which = "no version" if version is None else f"no version {version} kept"
            raise EddyError(
                f"{which} of {name} in Redis ({settings.redis_url_shown}, prefix "
                f"{settings.redis_prefix!r}): is EDDY_MODEL / EDDY_REDIS_PREFIX the worker's?"
            )
        try:
            model = served_model(snapshot, False)
        except BadSnapshot as exc:
            raise EddyError(f"{name} version {snapshot.version} does not load: {exc}") from exc
        learned = int(snapshot.meta.get("learned", 0))
        return ServedModel(model, snapshot.version, learned=learned, line=name)
    finally:
        await store.close()


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="eddy score", description=__doc__)
    parser.add_argument("input", type=Path, help="JSON Lines (.jsonl, .json) or CSV (.csv)")
    parser.add_argument("--output", "-o", type=Path, required=True, help="predictions, JSON Lines")
    parser.add_argument("--dead-letter", type=Path, help="bad lines with their reasons")
    parser.add_argument("--version", type=int, help="a kept version (default: the newest)")
    parser.add_argument(
        "--labels",
        type=Path,
        help="labels, JSON Lines: learn each labelled event after scoring it "
        "(a local copy: the model in Redis is not changed)",
    )
    args = parser.parse_args(argv)
    settings = Settings()
    for given in (args.input, args.labels):
        if given is not None and not given.is_file():
            print(f"eddy score: no file {given}", file=sys.stderr)
            return 2
    labels: dict[str, Label] | None = None
    bad_labels = offered = 0
    if args.labels is not None:
        labels, bad_labels = read_labels(args.labels)
        offered = len(labels)
    try:
        model = asyncio.run(served(settings, args.version))
    except EddyError as exc:
        print(f"eddy score: {exc}", file=sys.stderr)
        return 1
    began = time.perf_counter()
    with contextlib.ExitStack() as files:
        output = files.enter_context(args.output.open("w", encoding="utf-8"))
        letters = None
        if args.dead_letter is not None:
            letters = files.enter_context(args.dead_letter.open("w", encoding="utf-8"))
        summary = score_file(args.input, output, model, settings, letters, labels=labels)
    seconds = time.perf_counter() - began
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(summary.reasons.items()))
    print(
        f"eddy score: {summary.lines} lines, {summary.predicted} predicted by {model.model.name} "
        f"version {model.version} in {seconds:.1f} s "
        f"({summary.lines / max(seconds, 1e-9):,.0f} lines/s); {summary.bad} bad"
        + (f" ({reasons})" if reasons else "")
        + (f", written to {args.dead_letter}" if args.dead_letter and summary.bad else ""),
        file=sys.stderr,
    )
    if labels is not None:
        print(
            f"eddy score: learned {summary.learned} of {offered} labels (the model in Redis is "
            f"unchanged); {len(labels)} with no event scored, {summary.unlearned} refused by the "
            f"model, {bad_labels} bad lines",
            file=sys.stderr,
        )
    return 0
