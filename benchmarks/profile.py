"""``python -m benchmarks.profile``: where each contender's time goes.

Pre-fills a topic as ``python -m benchmarks`` does, then runs each
contender on it under py-spy (200 samples/s; a sample counts for the
thread holding the interpreter) while it drains the topic: the bare
aiokafka + River loop and the
Quix Streams app for their whole run, the worker's processes (a scorer,
and one process with everything on) for ``--seconds`` once they hold their
partitions. Prints, per contender, the share of its busy samples spent in
each library (the innermost frame's, past the event loop's plumbing; the
shares add up to 100%) and its events/s in that run. The raw profiles stay
in the run's directory, for flame graphs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from benchmarks.__main__ import (
    ONE,
    SCORER,
    in_run,
    prefilled,
    start_workers,
    stop_workers,
    worker_settings,
)
from benchmarks.contenders import (
    LOG_APPEND,
    QUIX_PYTHON,
    ROOT,
    Outputs,
    check_quix,
    create_topics,
    read_all,
)
from tests.harness import wait_assigned

PY_SPY = Path(sys.executable).parent / "py-spy"

PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("River (predict, learn; the worker's one-pass encoder)", ("(river/", "(app/catalog.py")),
    ("pydantic (validating, building and encoding records)", ("(pydantic",)),
    ("JSON (the stdlib's, orjson)", ("(json/", "orjson")),
    ("aiokafka (consuming, producing)", ("(aiokafka/",)),
    (
        "confluent-kafka and Quix's client wrappers",
        ("(confluent_kafka/", "(quixstreams/kafka/", "(quixstreams/rowconsumer", "producer.py"),
    ),
    ("Faust and mode (fetch hand-off, tracking, acknowledging)", ("(faust/", "(mode/")),
    ("Quix Streams' own per-record handling", ("(quixstreams/",)),
    ("Redis client", ("(redis/", "hiredis")),
    ("Prometheus client", ("(prometheus_client/",)),
    ("numpy (drift histograms)", ("(numpy/",)),
    ("the worker's own code", ("(app/", "(agents/")),
    ("the benchmark's own loop", ("(benchmarks/",)),
]
"""Each busy sample goes to the first part found from its innermost frame
out, past the event loop and the standard library's plumbing (a socket
write counts for the client that wrote); so the shares add up to 100%."""
NEUTRAL = (
    "(asyncio/",
    "(selectors",
    "(socket",
    "(functools",
    "(typing",
    "(abc",
    "(weakref",
    "(_weakrefset",
    "(contextlib",
    "(enum",
    "(<frozen",
    "(threading",
    "(collections/",
    "(ssl",
    "(struct",
    "(queue",
    "(concurrent/",
    "(dataclasses",
    "(logging/",
    # A worker's outermost frames (its command line, its service runner)
    # hold the event loop: not a part of the path.
    "(faust/cli/",
    "(click/",
    "(mode/worker.py",
    "(agents/__main__.py",
    "App.main (faust/",
)


STARTUP = ("_find_and_load", "warm_model", "freeze_heap")
"""Imports, warming the model, the one full collection before the heap is
frozen: start-up, not the path."""


def stacks(raw: Path) -> Iterator[tuple[list[str], int]]:
    """A raw py-spy profile's stacks (frames, outermost first, past the
    thread's name) and their sample counts, start-up left out."""
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not any(start in stack for start in STARTUP):
            yield stack.split(";")[1:], int(n)


def shares(raw: Path) -> tuple[int, dict[str, float]]:
    """Busy samples (holding the GIL), and each part's share of them."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for frames, samples in stacks(raw):
        total += samples
        counts[part_of(frames)] += samples
    names = [name for name, _ in PARTS] + ["the event loop and the rest"]
    return total, {name: counts[name] / total if total else 0.0 for name in names}


def part_of(frames: list[str]) -> str:
    return frame_of(frames)[0]


def frame_of(frames: list[str]) -> tuple[str, str]:
    """The part a sample goes to, and the frame that decided it."""
    for frame in reversed(frames):
        if any(n in frame for n in NEUTRAL):
            continue
        for name, needles in PARTS:
            if any(needle in frame for needle in needles):
                return name, frame
    return "the event loop and the rest", ""


OWN = "the worker's own code"


def own_functions(raw: Path, top: int) -> list[tuple[str, float]]:
    """The worker's own functions its samples go to, the busiest first."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for frames, samples in stacks(raw):
        total += samples
        part, frame = frame_of(frames)
        if part == OWN:
            counts[frame.rsplit(":", 1)[0] + ")"] += samples
    return [(name, n / total) for name, n in counts.most_common(top)]


def spy(output: Path, *target: str) -> subprocess.Popen[bytes]:
    """py-spy on ``target`` (``--pid PID`` and a duration, or ``--`` and a command)."""
    if not PY_SPY.exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    # --gil: a sample counts only for the thread holding the interpreter,
    # so that a thread waiting for it does not count as busy.
    command = [str(PY_SPY), "record", "-r", "200", "-f", "raw", "--gil", "-o", str(output)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([*command, *target], stdout=subprocess.DEVNULL, cwd=ROOT, env=env)


async def profile_process(
    name: str, command: list[str], sink: str, n: int, bootstrap: str, logs: Path
) -> tuple[Path, float]:
    """A contender in a process of its own, profiled for its whole run."""
    raw = logs / f"{name}.txt"
    process = spy(raw, "--", *command)
    await asyncio.to_thread(process.wait)
    outputs = Outputs.of(await read_all(bootstrap, sink, n, 60))
    return raw, outputs.events_per_s


async def profile_worker(
    name: str, base: dict[str, object], role: tuple[str, ...], n: int, seconds: float, logs: Path
) -> tuple[Path, float]:
    """A worker process, profiled for ``seconds`` once it holds its partitions."""
    settings = worker_settings(base, name)
    raw = logs / f"{name}.txt"
    await create_topics(
        settings.kafka_bootstrap,
        [settings.topic_predictions],
        settings.topic_partitions,
        LOG_APPEND,
    )
    workers = start_workers(settings, role, logs)  # type: ignore[arg-type]
    try:
        learns = role != SCORER
        owned = (
            {settings.topic_training: 1}
            if learns
            else {settings.topic_features: settings.topic_partitions}
        )
        await wait_assigned(workers, owned, within=120, ready=learns)
        assert workers[0].proc is not None
        process = spy(raw, "--pid", str(workers[0].proc.pid), "-d", str(int(seconds)))
        records = await read_all(settings.kafka_bootstrap, settings.topic_predictions, n, 900)
        await asyncio.to_thread(process.wait)
        return raw, Outputs.of(records).events_per_s
    finally:
        stop_workers(workers)


async def measure(args: argparse.Namespace, run: str) -> None:
    n = args.events
    base, logs = await prefilled(run, n, 4)
    bootstrap, source = str(base["kafka_bootstrap"]), str(base["topic_features"])
    results: dict[str, tuple[Path, float]] = {}
    for name, python in (("bare", Path(sys.executable)), ("quix", args.quix_python)):
        if name not in args.contenders:
            continue
        sink = f"{run}-{name}"
        await create_topics(bootstrap, [sink], 4, LOG_APPEND)
        command = [
            str(python),
            "-m",
            f"benchmarks.{name}",
            "--bootstrap",
            bootstrap,
            "--source",
            source,
            "--sink",
            sink,
            "--events",
            str(n),
        ]
        results[name] = await profile_process(name, command, sink, n, bootstrap, logs)
    for name, role in (("scorer", SCORER), ("worker", ONE)):
        if name in args.contenders:
            results[name] = await profile_worker(f"{run}-{name}", base, role, n, args.seconds, logs)
    for name, (raw, rate) in results.items():
        total, by_part = shares(raw)
        print(f"\n{name}: {rate:,.0f} events/s, {total:,} busy samples ({raw})\n")
        print("| share | part |\n|---|---|")
        for part, share in by_part.items():
            if share >= 0.005:
                print(f"| {share:.0%} | {part} |")
        if name in ("scorer", "worker"):
            print(
                f"\n{OWN}, by function:",
                ", ".join(f"{function} {share:.1%}" for function, share in own_functions(raw, 8)),
            )


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=15, help="a worker's profile")
    parser.add_argument(
        "--contenders", default="bare,quix,scorer,worker", type=lambda v: v.split(",")
    )
    parser.add_argument("--quix-python", type=Path, default=QUIX_PYTHON)
    args = parser.parse_args()
    if "quix" in args.contenders:
        check_quix(args.quix_python)
    asyncio.run(in_run("profile", measure, args))


if __name__ == "__main__":
    cli()
