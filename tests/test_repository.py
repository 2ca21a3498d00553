"""What a fresh clone gets: nothing tracked depends on the machine that made it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def git(*args: str) -> str:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def test_no_tracked_link_points_outside_the_repository() -> None:
    # A tracked link to a virtualenv in /tmp once made every other clone's
    # set-up fail while CI, on the machine that had the directory, passed.
    outside = []
    for line in git("ls-files", "-s").splitlines():
        mode, _, _, path = line.split(maxsplit=3)
        if mode != "120000":
            continue
        link = ROOT / path
        target = (link.parent / link.readlink()).resolve()
        if not target.is_relative_to(ROOT) or not target.exists():
            outside.append(f"{path} -> {link.readlink()}")
    assert outside == []


def test_nothing_tracked_is_also_ignored() -> None:
    assert git("ls-files", "--cached", "--ignored", "--exclude-standard").split() == []


def test_the_stores_scripts_ship_with_the_package_and_are_all_read() -> None:
    import tomllib

    from app.store.base import SCRIPTS

    shipped = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert shipped["package-data"]["app.store"] == ["*.lua"]  # the image installs the package
    on_disk = {p.stem for p in (ROOT / "app" / "store").glob("*.lua")}
    assert on_disk == set(SCRIPTS) and all(SCRIPTS.values())
