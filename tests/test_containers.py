"""docker-compose.yml and the Dockerfile, checked without a Docker engine."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from app import batch
from app.settings import SECRET_FILES, Settings

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
        values = {k.removeprefix("EDDY_").lower(): v for k, v in env.items()}
        for secret, file in SECRET_FILES.items():  # from the file, not this test's environment
            if file in values:
                values.setdefault(secret, None)
        with mock.patch.object(Path, "read_text", return_value="s" * 64):  # the secrets' files
            settings = Settings(**values)
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


def test_every_process_gets_the_secrets_the_secrets_service_makes(tmp_path: Path) -> None:
    services = compose()["services"]
    maker = services["secrets"]
    [volume] = maker["volumes"]
    assert volume.split(":")[0] in compose()["volumes"]
    mount = volume.split(":")[1]
    files: set[str] = set()
    for name in ("worker", "demo", "score"):  # each loads snapshots: each needs the key
        service = services[name]
        assert f"{volume}:ro" in service["volumes"], name
        assert service["depends_on"]["secrets"]["condition"] == "service_completed_successfully"
        secrets = {k: v for k, v in service["environment"].items() if k.endswith("_FILE")}
        assert "EDDY_SNAPSHOT_KEY_FILE" in secrets, name
        files |= {v.removeprefix(mount + "/") for v in secrets.values()}
    # The service's own command, run here on a directory of its own: it makes
    # every file the processes read, readable by its user only, and keeps
    # them on the next start.
    script = maker["command"][-1].replace("$$", "$").replace(mount, str(tmp_path))
    subprocess.run(["sh", "-c", script], check=True)
    made = {p.name: p for p in tmp_path.iterdir()}
    assert set(made) == files
    first = {name: path.read_text() for name, path in made.items()}
    assert all(len(text.strip()) == 64 for text in first.values())
    assert all(path.stat().st_mode & 0o077 == 0 for path in made.values())
    subprocess.run(["sh", "-c", script], check=True)
    assert {name: path.read_text() for name, path in made.items()} == first


def test_the_image_installs_a_wheel_with_the_compiled_encoder(tmp_path: Path) -> None:
    """The image builds a wheel in a stage with a C compiler and installs
    only it; the wheel, built here the same way, holds the compiled encoder
    and every file the packages need at run time."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    build, image = dockerfile.split("\nFROM python:3.11-slim\n")
    assert "gcc" in build and "COPY pyproject.toml setup.py README.md ./" in build
    [command] = re.findall(r"^RUN (pip wheel .*)$", build, re.M)
    assert "gcc" not in image and "COPY --from=build /wheels /wheels" in image
    subprocess.run(
        [sys.executable, "-m", *command.split()[:-1], "--wheel-dir", str(tmp_path), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("eddy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(re.fullmatch(r"app/_encoder\.cpython-.*\.so", n) for n in names), names
    scripts = {f"app/store/{p.name}" for p in (ROOT / "app" / "store").glob("*.lua")}
    assert scripts and scripts <= set(names)
    for package in ("app", "agents", "schemas", "demo", "monitoring"):
        assert f"{package}/__init__.py" in names
