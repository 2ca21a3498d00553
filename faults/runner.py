"""What every scenario gets (sizes, seed, where logs go, the shared stack)
and gives back (a report of what was done, what came out, and its checks);
running them in turn and the summary table."""

from __future__ import annotations

import asyncio
import random
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.settings import Settings


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is: ``FULL`` by default, ``QUICK`` with ``--quick``."""

    rate: float = 2000
    """Events a second in the streaming scenarios (each with a label: twice
    as many records)."""
    new_broker_rounds: int = 3
    sigterm_events: int = 20_000
    sigkill_kills: int = 5
    hand_over_labels: int = 2_000
    redis_frozen_seconds: float = 20
    broker_down_seconds: float = 10
    fuzz_features: int = 10_000
    fuzz_labels: int = 2_000
    fuzz_good: int = 1_000
    vocabulary_events: int = 20_000
    vocabulary_max_features: int = 2_000
    snapshot_events: int = 2_000


FULL = Sizes()
QUICK = Sizes(
    new_broker_rounds=1,
    sigterm_events=8_000,
    sigkill_kills=3,
    hand_over_labels=500,
    redis_frozen_seconds=8,
    broker_down_seconds=10,
    fuzz_features=2_000,
    fuzz_labels=400,
    fuzz_good=200,
    vocabulary_events=10_000,
    snapshot_events=500,
)


@dataclass(frozen=True)
class Endpoints:
    """Where a scenario's workers find Kafka and Redis."""

    kafka: str
    redis: str
    shared: bool
    """The stack other people use too: never hurt it, clean up after."""

    @classmethod
    def of_shared_stack(cls) -> Endpoints:
        defaults = Settings()
        return cls(defaults.kafka_bootstrap, defaults.redis_url, shared=True)


@dataclass
class Context:
    sizes: Sizes
    seed: int
    logs: Path
    """Every worker's and stack's log, kept after the run."""
    shared: Endpoints

    def rng(self, name: str) -> random.Random:
        """The scenario's own random numbers: the same on every run."""
        return random.Random(f"{self.seed}:{name}")


@dataclass
class Report:
    """What a scenario did, what came out, and whether its checks held."""

    name: str
    did: str = ""
    came_out: str = ""
    checks: list[tuple[str, bool]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def say(self, message: str) -> None:
        print(f"[{self.name}] {message}", flush=True)

    def check(self, what: str, ok: bool) -> bool:
        self.checks.append((what, ok))
        self.say(f"check: {what}: {'held' if ok else 'FAILED'}")
        return ok

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(ok for _, ok in self.checks)

    @property
    def verdict(self) -> str:
        if self.passed:
            return f"pass ({len(self.checks)} checks)"
        failed = [what for what, ok in self.checks if not ok]
        if self.error is not None:
            failed.append(f"error: {self.error}")
        if not failed:
            failed.append("no check ran")
        return "**FAIL**: " + "; ".join(failed)


Scenario = Callable[[Context, Report], Awaitable[None]]


async def run_one(name: str, scenario: Scenario, context: Context, limit: float) -> Report:
    report = Report(name)
    report.say("start")
    began = time.monotonic()
    try:
        await asyncio.wait_for(scenario(context, report), limit)
    except Exception as exc:  # a scenario that breaks is a failed scenario, not a crash
        report.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        traceback.print_exc()
    report.seconds = time.monotonic() - began
    report.say(f"{'passed' if report.passed else 'FAILED'} in {report.seconds:.0f} s")
    return report


async def run_all(
    scenarios: Sequence[tuple[str, Scenario]], context: Context, limit: float = 900
) -> list[Report]:
    reports = []
    for name, scenario in scenarios:
        reports.append(await run_one(name, scenario, context, limit))
    return reports


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary(reports: Sequence[Report], command: str, seconds: float) -> str:
    """The Markdown table to paste into the README, with its date and command."""
    lines = [
        f"Fault suite, {time.strftime('%Y-%m-%d %H:%M %Z')}: `{command}` "
        f"({seconds / 60:.1f} min, {sum(r.passed for r in reports)} of {len(reports)} passed)",
        "",
        "| scenario | what was done | what came out | verdict |",
        "|---|---|---|---|",
    ]
    for r in reports:
        lines.append(f"| {r.name} | {cell(r.did)} | {cell(r.came_out)} | {cell(r.verdict)} |")
    return "\n".join(lines)
