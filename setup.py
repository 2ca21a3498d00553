"""The one compiled part: the catalog's encoder (``app/_encoder.c``). Every
other setting is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "app._encoder",
            ["app/_encoder.c"],
            # Python rounds a * b - c twice; a fused multiply-add would round
            # once, and the encoder must be bit for bit River's.
            extra_compile_args=["-ffp-contract=off"],
        )
    ]
)
