"""Bad input mixed with good: seeded fuzzed payloads on the features and
labels topics, each of which must come out as exactly one dead letter with
the reason its kind calls for and its source offset, while every good event
is predicted and learned."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from demo.stream import qa_events, sea_drift
from faults.flow import Predictions, Record, Run, Tap, send, settle
from faults.runner import Context, Report
from schemas import DeadLetterReason as R

Payload = tuple[bytes | None, frozenset[str]]
"""A payload and the dead-letter reasons that fit it."""


def reasons(*rs: R) -> frozenset[str]:
    return frozenset(r.value for r in rs)


@dataclass(frozen=True)
class Limits:
    payload: int
    features: int


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def good_event(rng: random.Random) -> dict[str, Any]:
    return {"event_id": f"g{rng.randrange(10**9)}", "features": {"a": rng.random(), "b": "x"}}


def random_bytes(rng: random.Random, limits: Limits) -> Payload:
    # A few random bytes may happen to be JSON, a number say: not an object.
    return rng.randbytes(rng.randint(1, 300)), reasons(R.INVALID_JSON, R.SCHEMA_VIOLATION)


def truncated(rng: random.Random, limits: Limits) -> Payload:
    whole = dumps(good_event(rng))
    return whole[: rng.randrange(len(whole))], reasons(R.INVALID_JSON)


def not_utf8(rng: random.Random, limits: Limits) -> Payload:
    # 0xFF and 0xFE never occur in UTF-8.
    text = str(rng.randrange(10**9)).encode() + rng.choice([b"\xff", b"\xfe", b"\xff\xfe"])
    return b'{"event_id": "' + text + b'", "features": {}}', reasons(R.INVALID_JSON)


def empty(rng: random.Random, limits: Limits) -> Payload:
    return rng.choice([b"", None]), reasons(R.INVALID_JSON)


def wrong_types(rng: random.Random, limits: Limits) -> Payload:
    event = good_event(rng)
    field, value = rng.choice(
        [
            ("event_id", 42),
            ("event_id", None),
            ("event_id", ["a"]),
            ("event_id", ""),
            ("features", [1, 2]),
            ("features", "x=1"),
            ("features", None),
            ("features", {"x": [1]}),
            ("features", {"x": {"y": 1}}),
            ("features", {"": 1.0}),
            ("occurred_at", "yesterday"),
            ("occurred_at", "2024-01-01T00:00:00"),  # no offset
        ]
    )
    event[field] = value
    whole = rng.choice([dumps(event), dumps([event]), b"null", b"17", b'"text"'])
    return whole, reasons(R.SCHEMA_VIOLATION)


def deep(rng: random.Random, limits: Limits) -> Payload:
    depth = rng.randint(50, 5000)
    opening, closing = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    value = opening * depth + b"1" + closing * depth
    whole = b'{"event_id": "d", "features": {"x": ' + value + b"}}"
    return whole[: limits.payload], reasons(R.INVALID_JSON, R.SCHEMA_VIOLATION)


def huge_under(rng: random.Random, limits: Limits) -> Payload:
    """A string making the payload up to exactly the limit, in a field it
    does not fit (an event id or a feature name: at most 256 characters)."""
    size = rng.choice([limits.payload, rng.randint(1000, limits.payload)])

    def shape(s: str) -> dict[str, Any]:
        return (
            {"event_id": s, "features": {"x": 1.0}}
            if by_id
            else {"event_id": "e", "features": {s: 1.0}}
        )

    by_id = rng.random() < 0.5
    filler = "s" * (size - len(dumps(shape(""))))
    return dumps(shape(filler)), reasons(R.SCHEMA_VIOLATION)


def huge_over(rng: random.Random, limits: Limits) -> Payload:
    event = good_event(rng)
    event["features"]["s"] = "s" * rng.randint(limits.payload, 2 * limits.payload)
    return dumps(event), reasons(R.OVERSIZE_PAYLOAD)


def non_finite(rng: random.Random, limits: Limits) -> Payload:
    event = good_event(rng)
    text = rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
    whole = dumps(event).replace(b'"b": "x"', b'"b": ' + text.encode())
    return whole, reasons(R.NON_FINITE_VALUE)


def no_event_id(rng: random.Random, limits: Limits) -> Payload:
    event = good_event(rng)
    del event["event_id"]
    if rng.random() < 0.5:
        event["id"] = "e"
    return dumps(event), reasons(R.MISSING_EVENT_ID)


def too_many(rng: random.Random, limits: Limits) -> Payload:
    n = rng.randint(limits.features + 1, limits.features * 3)
    event = {"event_id": f"m{rng.randrange(10**9)}", "features": {f"f{i}": i for i in range(n)}}
    return dumps(event), reasons(R.TOO_MANY_FEATURES)


FEATURES: dict[str, Callable[[random.Random, Limits], Payload]] = {
    "random bytes": random_bytes,
    "truncated JSON": truncated,
    "not UTF-8": not_utf8,
    "empty or tombstone": empty,
    "wrong types": wrong_types,
    "deep nesting": deep,
    "huge string up to the limit": huge_under,
    "huge string over the limit": huge_over,
    "NaN or Infinity": non_finite,
    "missing event_id": no_event_id,
    "too many features": too_many,
}


def bad_label(rng: random.Random, limits: Limits) -> tuple[str, Payload]:
    """A label the worker must refuse (its model is a classifier)."""
    kind = rng.choice(
        [
            "random bytes",
            "truncated JSON",
            "empty or tombstone",
            "missing event_id",
            "label of a wrong type",
            "NaN or Infinity",
            "fraction for a classifier",
            "huge string over the limit",
        ]
    )
    label_id = f"l{rng.randrange(10**9)}"
    if kind == "random bytes":
        return kind, random_bytes(rng, limits)
    if kind == "truncated JSON":
        whole = dumps({"event_id": label_id, "label": True})
        return kind, (whole[: rng.randrange(len(whole))], reasons(R.INVALID_JSON))
    if kind == "empty or tombstone":
        return kind, empty(rng, limits)
    if kind == "missing event_id":
        return kind, (dumps({"label": True}), reasons(R.MISSING_EVENT_ID))
    if kind == "label of a wrong type":
        label = rng.choice([None, [1], {"y": 1}])
        return kind, (dumps({"event_id": label_id, "label": label}), reasons(R.SCHEMA_VIOLATION))
    if kind == "NaN or Infinity":
        text = rng.choice([b"NaN", b"Infinity", b"-Infinity"])
        return kind, (b'{"event_id": "x", "label": ' + text + b"}", reasons(R.NON_FINITE_VALUE))
    if kind == "fraction for a classifier":
        # 10**23 is read as a float: not a class either.
        fraction = rng.choice([0.5, 1e23, -2.25])
        payload = dumps({"event_id": label_id, "label": fraction})
        return kind, (payload, reasons(R.LABEL_TYPE_MISMATCH))
    filler = "s" * rng.randint(limits.payload, 2 * limits.payload)
    return kind, (dumps({"event_id": label_id, "label": filler}), reasons(R.OVERSIZE_PAYLOAD))


@dataclass(frozen=True)
class Bad:
    kind: str
    record: Record
    allowed: frozenset[str]


def bad_records(
    rng: random.Random,
    n_features: int,
    n_labels: int,
    topics: tuple[str, str],
    limits: Limits,
    partitions: int,
) -> list[Bad]:
    features_topic, labels_topic = topics
    kinds = list(FEATURES)
    out = []
    for i in range(n_features + n_labels):
        if i < n_features:
            kind = kinds[i % len(kinds)] if i < len(kinds) else rng.choice(kinds)
            payload, allowed = FEATURES[kind](rng, limits)
            topic = features_topic
        else:
            kind, (payload, allowed) = bad_label(rng, limits)
            kind, topic = f"label: {kind}", labels_topic
        # Some without a key (a tombstone needs one): their partition is
        # drawn here, not by the client.
        keyless = payload is not None and rng.random() < 0.1
        key, partition = (None, rng.randrange(partitions)) if keyless else (f"bad{i}", None)
        out.append(Bad(kind, (topic, key, payload, partition), allowed))
    return out


async def fuzz(context: Context, report: Report) -> None:
    sizes, rng = context.sizes, context.rng(report.name)
    report.did = (
        f"{sizes.fuzz_features:,} fuzzed payloads on the features topic and "
        f"{sizes.fuzz_labels:,} bad labels, mixed at random with {sizes.fuzz_good:,} good "
        "events and their labels"
    )
    async with Run(context, report, context.shared) as run:
        settings, worker = await run.ready_worker()
        limits = Limits(settings.max_payload_bytes, settings.max_event_features)
        topics = {"features": settings.topic_features, "labels": settings.topic_labels}
        good: list[Record] = [
            (topics[kind], e["event_id"], json.dumps(e).encode(), None)
            for kind, e in qa_events(sea_drift(sizes.fuzz_good, context.seed), 100, "good")
        ]
        bad = bad_records(
            rng,
            sizes.fuzz_features,
            sizes.fuzz_labels,
            (topics["features"], topics["labels"]),
            limits,
            settings.topic_partitions,
        )
        # Good records keep their order; the bad ones fall anywhere between.
        slots = set(rng.sample(range(len(good) + len(bad)), len(bad)))
        goods, bads = iter(good), iter(bad)
        mixed = [next(bads) if i in slots else next(goods) for i in range(len(good) + len(bad))]
        records = [m.record if isinstance(m, Bad) else m for m in mixed]
        async with (
            Predictions(settings) as predictions,
            Tap(settings.kafka_bootstrap, settings.topic_dead_letter, dead_letter) as letters,
        ):
            metadata = await send(settings.kafka_bootstrap, records)
            report.say(f"sent {len(good):,} good records and {len(bad):,} bad ones")
            where = {
                (m.topic, m.partition, m.offset): r for m, r in zip(metadata, mixed, strict=True)
            }
            expected = {coords: r for coords, r in where.items() if isinstance(r, Bad)}
            good_ids = {key for topic, key, _, _ in good if topic == topics["features"] and key}
            await predictions.all_of(good_ids, 120)

            async def all_letters() -> bool:
                return len(letters.items) >= len(expected)

            await settle(all_letters, 120)

            async def learned() -> dict[str, Any] | None:
                meta = await run.head()
                return meta if meta and meta["learned"] >= len(good_ids) else None

            meta = await settle(learned, 60) or await run.head() or {}
            # Anything beyond one dead letter per bad payload would come now.
            await asyncio.sleep(3)
        judge(report, expected, letters.values(), predictions.ids(), good_ids, meta)
        report.check("the worker is alive", worker.alive())


def dead_letter(record: Any) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(record.value)
    return value


def judge(
    report: Report,
    expected: dict[tuple[str, int, int], Bad],
    letters: list[dict[str, Any]],
    predicted: Counter[str],
    good_ids: set[str],
    meta: dict[str, Any],
) -> None:
    sources = Counter(
        (d["source"]["topic"], d["source"]["partition"], d["source"]["offset"]) for d in letters
    )
    unexpected = sum(n for coords, n in sources.items() if coords not in expected)
    twice = sum(n - 1 for n in sources.values() if n > 1)
    got: dict[str, Counter[str]] = defaultdict(Counter)
    wrong = 0
    for d in letters:
        coords = (d["source"]["topic"], d["source"]["partition"], d["source"]["offset"])
        bad = expected.get(coords)
        if bad is None:
            continue
        got[bad.kind][d["reason"]] += 1
        if d["reason"] not in bad.allowed:
            wrong += 1
    for kind, by_reason in sorted(got.items()):
        report.say(f"{kind}: {sum(by_reason.values()):,} dead letters: {dict(by_reason)}")
    outcomes = meta.get("outcomes", {})
    learned = meta.get("learned", 0)
    missing = len(good_ids - predicted.keys())
    stray = len(predicted.keys() - good_ids)
    report.came_out = (
        f"{len(letters):,} dead letters for {len(expected):,} bad payloads ({wrong} with a "
        f"reason that does not fit, {unexpected} from elsewhere, {twice} twice, "
        f"{len(expected.keys() - sources.keys())} missing); {len(good_ids) - missing:,} of "
        f"{len(good_ids):,} good events predicted, {stray} bad ones predicted; "
        f"{learned:,} learned (joined {outcomes.get('joined', 0):,})"
    )
    report.say(report.came_out)
    report.check("dead letters == bad payloads", len(letters) == len(expected))
    report.check(
        "each bad payload dead-lettered once, from its source offset",
        sources.keys() == expected.keys() and twice == 0,
    )
    report.check("each dead letter's reason fits its payload", wrong == 0)
    report.check("every good event predicted, no bad one", missing == 0 and stray == 0)
    report.check(
        "every good label learned once",
        learned == len(good_ids) and outcomes.get("joined") == len(good_ids),
    )
