"""The compiled parts of the per-event path (``app/_encoder.c``,
``app/_drift.c``), each bit for bit the Python code it replaces. Every other
setting is in pyproject.toml."""

from setuptools import Extension, setup

# Python rounds a * b - c twice; a fused multiply-add would round once.
STRICT = ["-ffp-contract=off"]

setup(
    ext_modules=[
        Extension("app._encoder", ["app/_encoder.c"], extra_compile_args=STRICT),
        Extension("app._drift", ["app/_drift.c"], extra_compile_args=STRICT),
    ]
)
