"""Readiness is a fact, not a hope: a process is ready only when its model is
loaded, it holds its share of the consumer group's partitions, and a live
process (this one or another) owns the training partition, so labels are
learned. Orchestrators (compose, Kubernetes) wait on ``GET /ready``.

Who learns is told by the learner itself: while it holds the training
partition and has loaded the model it renews a heartbeat in Redis every
``HEARTBEAT_SECONDS``; the heartbeat expires ``HEARTBEAT_TTL_SECONDS`` after
the last renewal, so a learner killed or frozen stops counting within that.

>>> reasons(Facts(model_loaded=True, joined=True, stopping=False, learner="h:1"))
[]
>>> reasons(Facts(model_loaded=True, joined=False, stopping=False, learner=None))
['not holding an assignment yet: joining the consumer group or rebalancing', \
'no live process owns the training partition: labels are not learned']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HEARTBEAT_SECONDS = 1.0
HEARTBEAT_TTL_SECONDS = 5.0
WARN_EVERY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Facts:
    model_loaded: bool
    joined: bool
    """Holds the assignment of the group's current generation."""
    stopping: bool
    learner: str | None
    """Who owns the learning, by its heartbeat; None if no live process does."""
    unreachable: str | None = None
    """Why Redis could not tell who learns, if it could not."""


def reasons(facts: Facts) -> list[str]:
    """Why the process is not ready (none: it is)."""
    out = []
    if facts.stopping:
        out.append("stopping")
    if not facts.model_loaded:
        out.append("the model is not loaded yet")
    if not facts.joined:
        out.append("not holding an assignment yet: joining the consumer group or rebalancing")
    if facts.unreachable is not None:
        out.append(f"Redis does not answer: {facts.unreachable}")
    elif facts.learner is None:
        out.append("no live process owns the training partition: labels are not learned")
    return out


class LearnerWatch:
    """What this process last saw of the learner's heartbeat, and when to
    say again, in the log, that nobody learns."""

    def __init__(self) -> None:
        self.learner: str | None = None
        self.unreachable: str | None = None
        self._warned = -math.inf

    def observe(self, learner: str | None, now: float, unreachable: str | None = None) -> bool:
        """Note a reading; True if a warning that nobody learns is due."""
        self.learner, self.unreachable = learner, unreachable
        if learner is not None or now - self._warned < WARN_EVERY_SECONDS:
            return False
        self._warned = now
        return True
