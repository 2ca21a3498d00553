"""The model a process scores with, and the version that names it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from app.model import OnlineModel


@dataclass(slots=True)
class ServedModel:
    """The current model of this process. Swapped whole, never mutated: a
    prediction always names the exact version that made it."""

    model: OnlineModel
    version: int
    created_at: float = field(default_factory=time.time)
    """When the served version was written."""
    refused: int = -1
    """The newest version that did not load (not tried again)."""

    def swap(
        self, model: OnlineModel, version: int, created_at: float, *, reset: bool = False
    ) -> bool:
        """Serve ``version`` if it is newer than the current one (or, with
        ``reset``, if it is another one: a new line of versions)."""
        if version <= self.version and not (reset and version != self.version):
            return False
        self.model, self.version, self.created_at = model, version, created_at
        return True
