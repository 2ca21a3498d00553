"""Importing this module registers this process's agents on
``app.streams.app``: all of them, or those of its role (``EDDY_ROLE``)."""

from agents import drift, model, web
from app.streams import settings

if settings.scores:
    from agents import labels, scoring  # noqa: F401
if settings.learns:
    from agents import learning  # noqa: F401

__all__ = ["drift", "model", "web"]
