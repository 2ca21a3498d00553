"""The model a process scores with, and the version that names it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from app.model import OnlineModel


@dataclass(slots=True)
class ServedModel:
    """The current model of this process.

    A process that loads versions from Redis swaps a version in whole and
    never mutates it. The process that learns serves its learner's own model
    (``live``): it learns in place between batches of scoring (both on the
    one event loop, so a batch is scored by one model throughout), and each
    prediction names the last version written and the labels learned since
    (``learned``)."""

    model: OnlineModel
    version: int
    created_at: float = field(default_factory=time.time)
    """When the served version was written (live: when it last learned)."""
    refused: int = -1
    """The newest version that did not load (not tried again)."""
    learned: int = 0
    """Labels the served model has learned."""
    live: bool = False
    """Whether this is the learner's model, learning in place."""
    line: str = ""
    """The name of the model's line of versions in Redis (``EDDY_MODEL``):
    the served pipeline's own name changes when a challenger is promoted."""
    shadows: dict[str, OnlineModel] = field(default_factory=dict)
    """The challengers of the served version, by name: they score in
    shadow (``EDDY_CHALLENGER_SAMPLE``), never published."""

    def __post_init__(self) -> None:
        self.line = self.line or self.model.name

    def swap(
        self,
        model: OnlineModel,
        version: int,
        created_at: float,
        *,
        learned: int = 0,
        reset: bool = False,
        shadows: dict[str, OnlineModel] | None = None,
    ) -> bool:
        """Serve ``version`` (and its challengers in shadow) if it is newer
        than the current one (or, with ``reset``, if it is another one: a
        new line of versions)."""
        if version <= self.version and not (reset and version != self.version):
            return False
        self.model, self.version, self.created_at = model, version, created_at
        self.learned, self.live = learned, False
        self.shadows = shadows or {}
        return True

    def follow(
        self,
        model: OnlineModel,
        version: int,
        learned: int,
        shadows: dict[str, OnlineModel] | None = None,
    ) -> None:
        """Serve the learner's own model, and its challengers in shadow, as
        they stand now."""
        self.model, self.version, self.learned = model, version, learned
        self.created_at, self.live = time.time(), True
        self.shadows = shadows or {}

    def detach(self) -> None:
        """The learner let go of its model: it is no longer learned in
        place, and the next version from Redis replaces it."""
        self.live = False
