"""How much of the machine a stage did not get, read beside its figures
(the benchmark runs on shared machines):

- the share of CPU time the hypervisor gave to other guests while the
  stage ran ("steal", from Linux's ``/proc/stat``);
- how late the machine woke a thread that asked to sleep 1 ms
  (``Watch``). A stall that takes the cores from every process (a virtual
  machine's host slow to run an idle core again, the kernel busy) is not
  always counted as steal; a thread that sleeps and wakes often sees it,
  as a lightly loaded stream worker does. The sleeper runs in a process of
  its own, at real-time priority where the system allows it, so the
  stage's own processes do not delay it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

STAT = Path("/proc/stat")

STEAL = 7
"""The column of ``steal`` among the ``cpu`` line's times (after ``user``,
``nice``, ``system``, ``idle``, ``iowait``, ``irq``, ``softirq``)."""


def cpu_times() -> list[int] | None:
    """The machine's CPU times so far (all cores), or None where there is
    no ``/proc/stat``."""
    try:
        first = STAT.read_text().splitlines()[0].split()
    except OSError:
        return None
    return [int(t) for t in first[1:]]


def steal_share(before: list[int] | None, after: list[int] | None) -> float | None:
    """Steal time between two readings of ``cpu_times``, as a share of all."""
    if before is None or after is None:
        return None
    spent = [a - b for a, b in zip(after, before, strict=False)]
    total = sum(spent[:8])
    return spent[STEAL] / total if total > 0 else None


NAP = 0.001
"""What the sleeper asks for each time."""

STALL = 0.010
"""A wake-up this much later than asked is a stall."""


@dataclass(frozen=True, slots=True)
class Stalled:
    """What the sleeper saw over a stage."""

    seconds: float
    longest: float
    """The latest wake-up, beyond the 1 ms asked (s)."""
    stalls: int
    """Wake-ups at least ``STALL`` late."""
    lost: float
    """Seconds lost in those stalls (their lateness, summed)."""
    realtime: bool
    """Whether the sleeper ran at real-time priority (else the stage's own
    load may also have delayed it)."""

    def describe(self) -> str:
        how = "" if self.realtime else ", normal priority"
        return (
            f"stalls {self.stalls} (lost {self.lost * 1000:,.0f} ms of {self.seconds:,.1f} s, "
            f"longest {self.longest * 1000:,.0f} ms{how})"
        )


def summarize(lates: list[float], seconds: float, realtime: bool) -> Stalled:
    """The sleeper's wake-ups, each as how much later than asked (s)."""
    stalls = [late for late in lates if late >= STALL]
    return Stalled(seconds, max(lates, default=0.0), len(stalls), sum(stalls), realtime)


class Watch:
    """The steal time and the sleeper's stalls over the length of a
    ``with``; both None where they cannot be read."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._before: list[int] | None = None
        self.steal: float | None = None
        self.stalled: Stalled | None = None

    @property
    def sleeper_pid(self) -> int | None:
        """The sleeper's process, while the ``with`` lasts."""
        return None if self._process is None else self._process.pid

    def describe(self) -> str:
        steal = "n/a" if self.steal is None else f"{self.steal:.1%}"
        stalled = "n/a" if self.stalled is None else self.stalled.describe()
        return f"steal time {steal}; wake-up {stalled}"

    def __enter__(self) -> Watch:
        self._before = cpu_times()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.machine"],
                stdout=subprocess.PIPE,
                text=True,
            )
        except OSError:
            self._process = None
        else:
            assert self._process.stdout is not None
            self._process.stdout.readline()  # napping from now on
        return self

    def __exit__(self, *exc: object) -> None:
        self.steal = steal_share(self._before, cpu_times())
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            out, _ = process.communicate(timeout=10)
            found = json.loads(out)
        except (subprocess.TimeoutExpired, ValueError):
            process.kill()
            process.wait()
            return
        self.stalled = summarize(found["lates"], found["seconds"], found["realtime"])


def sleeper() -> None:
    """Say it is ready, sleep ``NAP`` at a time until SIGTERM, then print how
    late each wake-up was (only those over ``NAP``, to keep the output small)
    as JSON."""
    realtime = True
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (AttributeError, OSError):
        realtime = False
    stop = False

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    print("ready", flush=True)
    lates: list[float] = []
    began = time.perf_counter()
    while not stop:
        asked = time.perf_counter()
        time.sleep(NAP)
        late = time.perf_counter() - asked - NAP
        if late > NAP:
            lates.append(round(late, 6))
    seconds = time.perf_counter() - began
    print(json.dumps({"lates": lates, "seconds": seconds, "realtime": realtime}))


if __name__ == "__main__":
    sleeper()
