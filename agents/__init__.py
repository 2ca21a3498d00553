"""Thin Faust agents and timers: decode, call ``app``, emit.

Importing this package registers every agent on ``app.streams.app``.
"""

from agents import labels, learning, model, scoring, web

__all__ = ["labels", "learning", "model", "scoring", "web"]
