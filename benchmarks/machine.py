"""How much of the machine a stage did not get: the share of CPU time the
hypervisor gave to other guests while the stage ran ("steal", from Linux's
``/proc/stat``). The benchmark runs on shared machines; a stage slower than
its neighbours is read next to this, not only against the bare loop's
events/s."""

from __future__ import annotations

from pathlib import Path

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
