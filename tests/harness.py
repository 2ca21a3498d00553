"""Running real worker processes and talking to them through real Kafka."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.settings import SECRET_FILES, Settings

T = TypeVar("T")
SNAPSHOT_KEY = "tests-snapshot-key-" + "0123456789abcdef" * 2
"""The tests' own snapshot key (not a secret: nothing else trusts it)."""
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def env_of(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    values = settings.model_dump()
    for name, file_name in SECRET_FILES.items():
        if values[file_name] is not None:  # read from its file: the file is passed on
            values[name] = None
    for name, value in values.items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is not None:
            env[f"EDDY_{name.upper()}"] = str(value)
        else:  # the settings say unset: so is the process's environment
            env.pop(f"EDDY_{name.upper()}", None)
    return env


def run_eddy(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """``eddy ARGS`` as a user runs it, with the settings as its environment."""
    return subprocess.run(
        [sys.executable, "-m", "agents", *args],
        cwd=ROOT,
        env=env_of(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Worker:
    """One ``eddy worker`` process; its log is kept for failure reports."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_path = log_dir / f"worker-{settings.web_port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agents", "worker", "-l", "info"],
                cwd=ROOT,
                env=env_of(self.settings),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def status(self) -> dict[str, Any] | None:
        return self.get("/status")

    def ready(self) -> dict[str, Any] | None:
        """``/ready``'s answer, 200 or 503 alike (None if nothing answers)."""
        try:
            return self.get("/ready")
        except urllib.error.HTTPError as exc:
            data: dict[str, Any] = json.load(exc)
            return data

    def get(self, path: str) -> dict[str, Any] | None:
        url = f"http://127.0.0.1:{self.settings.web_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                data: dict[str, Any] = json.load(response)
                return data
        except urllib.error.HTTPError:
            if path == "/ready":
                raise
            return None
        except OSError:
            return None

    def metrics(self) -> Samples:
        """``/metrics``, by sample name and sorted labels."""
        url = f"http://127.0.0.1:{self.settings.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> float:
        """Graceful stop (SIGTERM), as an operator would: seconds to exit."""
        return self.end(signal.SIGTERM)

    def kill(self) -> float:
        """Sudden death (SIGKILL): no commit, no snapshot, no goodbye."""
        return self.end(signal.SIGKILL)

    def end(self, sig: signal.Signals, within: float = 30) -> float:
        """Send ``sig`` and wait for the process to exit; SIGKILL after
        ``within`` seconds. The seconds it took (inf if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        sent = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return float("inf")
        return time.monotonic() - sent

    async def wait_ready(self, within: float = 60) -> dict[str, Any]:
        """Until ``/ready`` answers 200."""

        async def probe() -> dict[str, Any] | None:
            if not self.alive():
                raise AssertionError(f"worker died:\n{self.tail()}")
            answer = self.ready()
            return answer if answer and answer.get("ready") else None

        return await eventually("the worker to be ready", probe, within)

    def tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


async def poll(
    probe: Callable[[], Awaitable[T | None]], within: float, every: float = 0.2
) -> T | None:
    """Poll ``probe`` until it returns something truthy; None after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(every)


async def eventually(
    what: str, probe: Callable[[], Awaitable[T | None]], within: float, every: float = 0.2
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``within`` seconds."""
    result = await poll(probe, within, every)
    if not result:
        raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
    return result


async def wait_assigned(
    workers: list[Worker], topics: dict[str, int], within: float = 60, ready: bool = True
) -> None:
    """Until the workers together own every partition of ``topics`` (and,
    with ``ready``, each says on ``/ready`` that it is ready)."""

    async def covered() -> bool:
        owned: dict[str, set[int]] = {t: set() for t in topics}
        for worker in workers:
            if not worker.alive():
                raise AssertionError(f"worker died:\n{worker.tail()}")
            status = worker.status()
            for topic, parts in (status or {}).get("partitions", {}).items():
                owned.setdefault(topic, set()).update(parts)
        return all(owned[t] >= set(range(n)) for t, n in topics.items())

    await eventually(f"assignment of {topics}", covered, within)
    if ready:
        for worker in workers:
            await worker.wait_ready(within)


async def produce(
    bootstrap: str, records: Iterable[tuple[str, str, bytes]], rate: float | None = None
) -> int:
    """Send ``(topic, key, value)`` in order, ``rate`` records a second at
    most, and wait until the broker has acknowledged every one."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    sent = 0
    started = time.monotonic()
    try:
        futures = []
        for topic, key, value in records:
            if rate is not None:
                ahead = started + sent / rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            futures.append(await producer.send(topic, value, key=key.encode()))
            sent += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


def as_records(
    events: Iterable[tuple[str, dict[str, Any]]], settings: Settings
) -> list[tuple[str, str, bytes]]:
    """QA events as Kafka records for the topics of ``settings``."""
    topic = {"features": settings.topic_features, "labels": settings.topic_labels}
    return [(topic[kind], e["event_id"], json.dumps(e).encode()) for kind, e in events]


class Reader:
    """Reads a topic from the beginning, collecting decoded JSON values."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.values: list[dict[str, Any]] = []
        self.records: list[Any] = []
        """The raw records, keys and partitions included."""

    async def __aenter__(self) -> Reader:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def poll(self) -> list[dict[str, Any]]:
        batches = await self.consumer.getmany(timeout_ms=200, max_records=5000)
        for records in batches.values():
            self.records.extend(records)
            self.values.extend(json.loads(r.value) for r in records if r.value is not None)
        return self.values

    async def to_end(self, within: float = 30) -> list[dict[str, Any]]:
        """Everything written to the topic before this call."""
        await self.poll()
        parts = self.consumer.assignment()
        ends = await self.consumer.end_offsets(list(parts))

        async def read_all() -> bool:
            await self.poll()
            return all([await self.consumer.position(tp) >= ends[tp] for tp in parts])

        await eventually("the end of the topic", read_all, within, every=0)
        return self.values

    async def until(
        self, what: str, enough: Callable[[list[dict[str, Any]]], bool], within: float
    ) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            values = await self.poll()
            return values if enough(values) else None

        return await eventually(what, probe, within, every=0)


@dataclass(frozen=True, slots=True)
class Served:
    """A histogram of a label's way to the model (``eddy_label_served_seconds``
    of one path, or ``eddy_label_received_seconds``), as scraped."""

    count: int
    within: dict[float, float]
    """Share of labels served within each bucket's bound, in seconds."""

    def quantile(self, q: float) -> float:
        """The smallest bucket bound that holds a share ``q`` (an upper bound
        of the quantile: exact to a bucket)."""
        return min((b for b, share in self.within.items() if share >= q), default=math.inf)

    def describe(self) -> str:
        return (
            f"{self.count} labels: p50 <= {self.quantile(0.5) * 1000:.0f} ms, "
            f"p99 <= {self.quantile(0.99) * 1000:.0f} ms, within 100 ms "
            f"{self.within.get(0.1, 0):.1%}, within 300 ms {self.within.get(0.3, 0):.1%}"
        )


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def label_served(samples: Samples, path: str) -> Served:
    return _histogram(samples, "eddy_label_served_seconds", {"path": path})


def label_received(samples: Samples) -> Served:
    """``eddy_label_received_seconds``: labels taken from the fetch."""
    return _histogram(samples, "eddy_label_received_seconds", {})


def _histogram(samples: Samples, name: str, labels: dict[str, str]) -> Served:
    count = samples.get((f"{name}_count", tuple(sorted(labels.items()))), 0.0)
    within = {
        float(dict(series)["le"]): value / count
        for (sample, series), value in samples.items()
        if sample == f"{name}_bucket"
        and count
        and labels.items() <= dict(series).items()
        and dict(series)["le"] != "+Inf"
    }
    return Served(int(count), within)


async def delete_topics(bootstrap: str, prefixes: Iterable[str]) -> int:
    """Delete the broker's topics whose names start with one of ``prefixes``
    (a run's own: thousands left from earlier runs slow the broker's start
    past a minute); how many."""
    wanted = tuple(prefixes)
    if not wanted:
        return 0
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(wanted)]
        if topics:
            await admin.delete_topics(topics)
        return len(topics)
    finally:
        await admin.close()
