"""The contenders beside the worker, and how every contender is timed.

Each one reads the same pre-filled features topic and publishes one output
per event to a topic of its own, created with the broker's
``LogAppendTime``: its events/s is the number of outputs over the time the
broker took to append them, the same clock for all (a Quix Streams app
copies each input's timestamp to its output, so producer-side stamps would
time nothing). The outputs also say whether every event got exactly one,
and what each contender predicted.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

LOG_APPEND = {"message.timestamp.type": "LogAppendTime"}
ROOT = Path(__file__).resolve().parent.parent
QUIX_PYTHON = ROOT / ".venv-quix" / "bin" / "python"
"""The Quix Streams contender's interpreter (``scripts/bench.sh`` makes it)."""


def check_quix(python: Path) -> None:
    """Refuse to start a run whose Quix Streams contender cannot run."""
    if not python.exists():
        raise SystemExit(
            f"no Quix Streams environment at {python}: scripts/bench.sh makes it "
            "(python -m venv .venv-quix && .venv-quix/bin/pip install -r "
            "benchmarks/quix-requirements.txt)"
        )


async def create_topics(
    bootstrap: str, names: list[str], partitions: int, configs: dict[str, str] | None = None
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, partitions, 1, topic_configs=configs or {}) for n in names]
        )
    finally:
        await admin.close()


@dataclass
class Outputs:
    """One contender's outputs, as the broker appended them."""

    events_per_s: float
    unique: int
    duplicates: int
    probabilities: dict[str, dict[str, float]] = field(repr=False)
    """Each event's probabilities, by event id (its first output's)."""

    @classmethod
    def of(cls, records: list[Any]) -> Outputs:
        stamps = sorted(r.timestamp for r in records)
        seconds = (stamps[-1] - stamps[0]) / 1000
        probabilities: dict[str, dict[str, float]] = {}
        for r in records:
            probabilities.setdefault(r.key.decode(), json.loads(r.value).get("probabilities"))
        return cls(
            events_per_s=(len(stamps) - 1) / seconds if seconds > 0 else float("nan"),
            unique=len(probabilities),
            duplicates=len(records) - len(probabilities),
            probabilities=probabilities,
        )

    def differing(self, other: Outputs) -> int:
        """Events whose probabilities are not the same to the last bit as ``other``'s."""
        return sum(
            1 for k, p in self.probabilities.items() if other.probabilities.get(k) != p
        ) + len(other.probabilities.keys() - self.probabilities.keys())


async def read_all(bootstrap: str, topic: str, n: int, within: float) -> list[Any]:
    """Every record of ``topic`` until ``n`` distinct keys are in."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=10
    )
    await consumer.start()
    records: list[Any] = []
    seen: set[bytes] = set()
    deadline = time.monotonic() + within
    try:
        while len(seen) < n and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200, max_records=10_000)).values():
                for r in batch:
                    records.append(r)
                    seen.add(r.key)
    finally:
        await consumer.stop()
    return records


async def bare(
    bootstrap: str, source: str, sink: str, n: int, learn_first: int, cores: set[int] | None = None
) -> Outputs:
    """The bare aiokafka + River loop (``benchmarks.bare``) into ``sink``."""
    return await contend(
        Path(sys.executable), "benchmarks.bare", bootstrap, source, sink, n, learn_first, cores
    )


async def quix(
    bootstrap: str,
    source: str,
    sink: str,
    n: int,
    learn_first: int,
    python: Path,
    cores: set[int] | None = None,
) -> Outputs:
    """The Quix Streams app (``benchmarks.quix``) into ``sink``, with its own interpreter."""
    return await contend(python, "benchmarks.quix", bootstrap, source, sink, n, learn_first, cores)


async def pipe(
    bootstrap: str, source: str, sink: str, n: int, score: bool, cores: set[int] | None = None
) -> Outputs:
    """aiokafka moving records through (``benchmarks.pipe``), scoring them or not, into ``sink``."""
    flags = ["--score"] if score else []
    return await contend(
        Path(sys.executable), "benchmarks.pipe", bootstrap, source, sink, n, 0, cores, flags
    )


async def contend(
    python: Path,
    module: str,
    bootstrap: str,
    source: str,
    sink: str,
    n: int,
    learn_first: int,
    cores: set[int] | None,
    flags: Sequence[str] = (),
) -> Outputs:
    """A contender's module in a process of its own (on ``cores``, if given),
    until it has scored ``n`` events from ``source`` into ``sink``; its outputs."""
    args = ["--bootstrap", bootstrap, "--source", source, "--sink", sink, "--events", str(n)]
    await run(python, module, [*args, *flags, "--learn-first", str(learn_first)], cores)
    return Outputs.of(await read_all(bootstrap, sink, n, 60))


async def run(python: Path, module: str, args: list[str], cores: set[int] | None) -> None:
    """``python -m module args`` until it exits, every thread of it on
    ``cores`` (set before it starts, so every thread it makes inherits it)."""

    def on_cores() -> None:
        if cores is not None:
            os.sched_setaffinity(0, cores)

    process = await asyncio.create_subprocess_exec(
        str(python),
        "-m",
        module,
        *args,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"},
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=on_cores,
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        sys.stderr.write(err.decode(errors="replace")[-4000:])
        raise RuntimeError(f"{module} exited with {process.returncode}")
