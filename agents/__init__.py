"""Thin Faust agents and timers: decode, call ``app``, emit.

Importing this package registers every agent on ``app.streams.app``.
"""

from agents import drift, labels, learning, model, scoring, web

__all__ = ["drift", "labels", "learning", "model", "scoring", "web"]
