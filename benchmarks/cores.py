"""A core of its own for the contender (``python -m benchmarks --pin``).

On a machine whose cores also run the broker, Redis and the benchmark's own
readers, a contender shares its CPU with them, as much as they happen to
take. Pinned, the contender's process, every thread of it (librdkafka's
too, in Quix Streams), gets the last core alone, and everything else (the
broker, Redis, the benchmark, a learner beside a scorer) the other cores:
the same core for every contender, the servers it talks to elsewhere for
all alike.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.contenders import ROOT

EVERY = frozenset(os.sched_getaffinity(0))
"""The cores this benchmark may use, as it started (before it pinned itself)."""


def split() -> tuple[set[int], set[int]]:
    """(the contender's core, the others), or ``SystemExit`` on one core."""
    cores = sorted(EVERY)
    if len(cores) < 2:
        raise SystemExit("--pin needs at least 2 cores")
    return {cores[-1]}, set(cores[:-1])


def pin(pid: int, cores: set[int]) -> None:
    """Every thread of process ``pid`` on ``cores`` (threads it starts later
    inherit it from the thread that starts them)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cores)
        except ProcessLookupError:  # a thread that just ended
            continue


def stack_pids() -> list[int]:
    """The local stack's broker and Redis servers (``scripts/stack.sh``'s pid files)."""
    state = Path(os.environ.get("STACK_DIR", ROOT / ".stack"))
    files = [state / "kafka" / "kafka.pid", state / "redis" / "redis.pid"]
    files += sorted((state / "redis-cluster").glob("*/redis.pid"))
    pids = []
    for f in files:
        if f.exists() and Path(f"/proc/{f.read_text().strip()}").exists():
            pids.append(int(f.read_text().strip()))
    return pids + children(pids)


def children(parents: list[int]) -> list[int]:
    """The processes whose parent is one of ``parents`` (a launcher's server)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid in parents:
            out.append(int(stat.parent.name))
    return out


def pin_the_rest(others: set[int]) -> list[int]:
    """The benchmark itself and the stack on ``others``; the pids pinned."""
    pids = [os.getpid(), *stack_pids()]
    for pid in pids:
        pin(pid, others)
    return pids


def unpin_all(pids: list[int]) -> None:
    """Back to every core the benchmark started with."""
    for pid in pids:
        if Path(f"/proc/{pid}").exists():
            pin(pid, set(EVERY))
