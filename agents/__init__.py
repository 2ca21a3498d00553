"""Thin Faust agents and timers: decode, call ``app``, emit.

``agents.roles`` registers a process's agents; importing this package
alone loads nothing (``eddy score`` and ``eddy model`` need no Faust app).
"""
