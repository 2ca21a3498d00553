"""docker-compose.yml and the Dockerfile, checked without a Docker engine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from app import batch
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def default(name: str) -> Any:
    """A setting's default: what the image runs with (the test's own
    environment may set EDDY_* variables of its own)."""
    return Settings.model_fields[name].default


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_runs_the_kafka_version_the_stack_pins() -> None:
    pom = (ROOT / "stack" / "pom.xml").read_text()
    pinned = re.search(r"<kafka.version>(.+)</kafka.version>", pom)
    assert pinned is not None
    assert compose()["services"]["kafka"]["image"] == f"apache/kafka:{pinned.group(1)}"


def test_every_worker_variable_is_a_setting_and_is_valid() -> None:
    services = compose()["services"]
    for name in ("worker", "demo", "score"):
        env = services[name]["environment"]
        fields = {f"EDDY_{f.upper()}" for f in Settings.model_fields}
        assert set(env) <= fields, f"{name} sets unknown variables"
        settings = Settings(**{k.removeprefix("EDDY_").lower(): v for k, v in env.items()})
        dialled = []
        if "EDDY_KAFKA_BOOTSTRAP" in env:
            dialled.append(settings.kafka_bootstrap.split(":")[0])
        if "EDDY_REDIS_URL" in env:
            dialled.append(settings.redis_url.split("/")[2].split(":")[0])
        assert dialled and set(dialled) <= set(services), f"{name} dials {dialled}"


def test_kafka_advertises_the_address_the_worker_dials() -> None:
    kafka = compose()["services"]["kafka"]["environment"]
    bootstrap = compose()["services"]["worker"]["environment"]["EDDY_KAFKA_BOOTSTRAP"]
    assert f"PLAINTEXT://{bootstrap}" in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")


def test_image_runs_the_declared_entry_point_and_is_healthy_only_when_ready() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert 'CMD ["eddy", "worker", "-l", "info"]' in dockerfile and "eddy" in scripts
    port = default("web_port")
    assert f"EXPOSE {port}" in dockerfile
    [healthcheck] = re.findall(r"HEALTHCHECK[^\n]*\\\n\s*CMD ([^\n]+)", dockerfile)
    assert f"127.0.0.1:{port}/ready" in healthcheck


def test_the_image_holds_every_package_the_project_installs() -> None:
    # The image once left out monitoring/, which the demo imports: the
    # compose demo failed at its first import.
    dockerfile = (ROOT / "Dockerfile").read_text()
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {p.rstrip("*") for p in found["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.M))
    assert packages == copied
    for package in packages:
        assert (ROOT / package / "__init__.py").exists()
    imported = set()
    for path in ROOT.glob("[a-z]*/**/*.py"):
        if path.parts[len(ROOT.parts)] in packages:
            imported |= set(re.findall(r"^(?:from|import) (\w+)", path.read_text(), re.M))
    assert imported & {p.name for p in ROOT.iterdir() if p.is_dir()} <= packages


def test_the_demo_waits_for_a_ready_worker_and_stops_it_in_time() -> None:
    services = compose()["services"]
    assert services["demo"]["depends_on"]["worker"]["condition"] == "service_healthy"
    # In its own container the demo reaches the worker by its service name,
    # and writes its report where the image's user may write.
    command = services["demo"]["command"]
    port = services["worker"]["environment"]["EDDY_WEB_PORT"]
    assert command[command.index("--worker") + 1] == f"http://worker:{port}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    [home] = re.findall(r"useradd .*--home-dir (\S+)", dockerfile)
    assert command[command.index("--dashboard") + 1].startswith(home + "/")
    assert re.search(r"^USER eddy$", dockerfile, re.M)
    grace = int(services["worker"]["stop_grace_period"].rstrip("s"))
    assert grace > default("stop_timeout_seconds") + 5


def test_the_score_example_runs_eddy_score_with_arguments_it_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    score = compose()["services"]["score"]
    command = score["command"]
    assert command[:2] == ["eddy", "score"]
    assert any(v.endswith(":/data") for v in score["volumes"])
    # The arguments parse: the run gets as far as reading its settings.
    monkeypatch.setattr(batch, "Settings", mock.Mock(side_effect=RuntimeError("parsed")))
    with pytest.raises(RuntimeError, match="parsed"):
        batch.run(command[2:])
