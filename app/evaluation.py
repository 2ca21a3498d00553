"""``eddy replay``: last week's events and labels, in their original order,
through a catalog model or a stored version, evaluated as River evaluates:
``evaluate.progressive_val_score`` at a label delay (in labelled events).
How an operator tries a challenger on history before running it live.

The events come from files (JSON Lines in the features and labels
contracts) or from the deployment's topics over a time range. Each event
with a label becomes one ``(features, label)`` pair, in the events' order
(file order, or Kafka timestamp then partition and offset); events with no
label, and labels with no event, are counted and left out. River's own
evaluator does the rest, so the figures equal ``progressive_val_score`` on
the same pairs: the test holds it to that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import cast, get_args

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from river import evaluate, metrics

from app import catalog
from app.batch import labels_by_id, served
from app.errors import EddyError
from app.kafka_auth import client_options
from app.model import Features, OnlineModel, present
from app.settings import ModelName, Settings
from schemas import FeatureEvent, Label

Pair = tuple[Features, Label]

READ_TIMEOUT_SECONDS = 300.0
"""Longest a topic may take to be read to its end before the replay gives up."""


@dataclass(slots=True)
class Report:
    model: str
    source: str
    delay: int
    pairs: int
    unlabelled: int
    orphan_labels: int
    bad_lines: int
    metrics: dict[str, float]


def pairs(features: Iterable[bytes], labels: Iterable[bytes]) -> tuple[list[Pair], dict[str, int]]:
    """The labelled events in the features' order, and what was left out."""
    known, bad = labels_by_id(labels)
    out: list[Pair] = []
    unlabelled = 0
    seen: set[str] = set()
    for raw in features:
        try:
            event = FeatureEvent.model_validate_json(raw)
        except ValueError:
            bad += 1
            continue
        if event.event_id in seen:  # redelivered: scored once, learned once
            continue
        seen.add(event.event_id)
        if event.event_id in known:
            out.append((present(event.features), known[event.event_id]))
        else:
            unlabelled += 1
    orphans = len(set(known) - seen)
    return out, {"unlabelled": unlabelled, "orphan_labels": orphans, "bad_lines": bad}


def metric_for(model: OnlineModel) -> metrics.base.Metrics:
    if model.kind == "classifier":
        return metrics.Accuracy() + metrics.ROCAUC() + metrics.LogLoss() + metrics.F1()
    return metrics.MAE() + metrics.RMSE() + metrics.R2()


def evaluate_pairs(data: list[Pair], model: OnlineModel, delay: int) -> metrics.base.Metrics:
    """River's progressive validation of ``model`` (learning as it goes: a
    copy of a stored version is never written back)."""
    metric = metric_for(model)
    evaluate.progressive_val_score(data, model.pipeline, metric, delay=delay or None)
    return metric


def _lines(path: Path) -> list[bytes]:
    return [line.encode() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


async def read_topic(
    settings: Settings, topic: str, since: datetime, until: datetime
) -> list[bytes]:
    """A topic's records from ``since`` to ``until`` (Kafka timestamps),
    ordered by timestamp, then partition and offset."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described.get("error_code") or not described.get("partitions"):
        raise EddyError(f"no topic {topic} at {settings.kafka_bootstrap}")
    parts = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(parts)
        first, last = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
        starts = await consumer.offsets_for_times({p: first for p in parts})
        ends = await consumer.end_offsets(parts)
        rows: list[tuple[int, int, int, bytes]] = []
        left = set()
        for part in parts:
            found = starts.get(part)
            if found is not None and found.offset < ends[part]:
                consumer.seek(part, found.offset)
                left.add(part)
        # To the end offsets as they were at the start, whatever the
        # timestamps on the way (producers' clocks need not be in order).
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        while left:
            if time.monotonic() > deadline:
                raise EddyError(f"{topic}: not read to its end in {READ_TIMEOUT_SECONDS:.0f} s")
            batches = await consumer.getmany(*left, timeout_ms=1000)
            for part, records in batches.items():
                for r in records:
                    if first <= r.timestamp <= last and r.value is not None:
                        rows.append((r.timestamp, part.partition, r.offset, r.value))
            for part in list(left):
                if await consumer.position(part) >= ends[part]:
                    left.discard(part)
        rows.sort()
        return [value for *_, value in rows]
    finally:
        await consumer.stop()


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="eddy replay", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--features", type=Path, help="features, JSON Lines")
    source.add_argument(
        "--since", type=datetime.fromisoformat, help="from the topics, from this time (ISO 8601)"
    )
    parser.add_argument("--labels", type=Path, help="labels, JSON Lines (with --features)")
    parser.add_argument("--until", type=datetime.fromisoformat, help="with --since (default: now)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model", choices=get_args(ModelName), help="a catalog pipeline, untrained")
    which.add_argument("--version", type=int, help="a stored version (learning on from it)")
    parser.add_argument("--delay", type=int, default=0, help="labels this many events late")
    parser.add_argument("--report", type=Path, help="write the figures as JSON")
    args = parser.parse_args(argv)
    if args.features is not None and args.labels is None:
        parser.error("--features needs --labels")
    settings = Settings()
    try:
        if args.features is not None:
            features, labels = _lines(args.features), _lines(args.labels)
            origin = f"{args.features} + {args.labels}"
        else:
            until = args.until or datetime.now(args.since.tzinfo)
            features = asyncio.run(read_topic(settings, settings.topic_features, args.since, until))
            labels = asyncio.run(read_topic(settings, settings.topic_labels, args.since, until))
            origin = f"{settings.topic_features} + {settings.topic_labels}, {args.since} to {until}"
        if args.version is not None:
            model = asyncio.run(served(settings, args.version)).model
            name = f"{settings.model} version {args.version}"
        else:
            chosen = cast(ModelName, args.model or settings.model)
            model = OnlineModel(chosen, catalog.build(chosen))
            name = chosen
    except (EddyError, OSError) as exc:
        print(f"eddy replay: {exc}", file=sys.stderr)
        return 1
    data, left_out = pairs(features, labels)
    if not data:
        print("eddy replay: no event with a label to replay", file=sys.stderr)
        return 1
    metric = evaluate_pairs(data, model, args.delay)
    figures = {type(m).__name__: float(m.get()) for m in metric}
    report = Report(name, origin, args.delay, len(data), **left_out, metrics=figures)
    print(f"{name} on {len(data):,} labelled events, labels {args.delay} events late:\n{metric}")
    left = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in left_out.items() if n)
    if left:
        print(f"left out: {left}")
    if args.report is not None:
        args.report.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0
