"""The worker's core: settings, model, scoring, learning, storage.

Import rules: ``schemas`` imports nothing of the project; ``app`` imports
``schemas`` and never ``agents``; ``agents`` import ``app`` and ``schemas``.
Only ``app.settings`` reads the environment, only ``app.store`` talks to Redis,
and only ``app.streams`` and ``agents`` know about Faust.
"""
