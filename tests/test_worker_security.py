"""A worker as a production deployment runs it: Redis through an ACL user
limited to the deployment's prefix, every secret set. It works end to end,
the user cannot reach another prefix, and no secret shows anywhere the
worker writes, however it is provoked."""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.exceptions import NoPermissionError

from app.settings import Settings
from app.signing import Signer
from app.store import Store
from tests.conftest import KAFKA_BOOTSTRAP, REDIS_URL, SecureStack
from tests.harness import SNAPSHOT_KEY, Reader, Worker, eventually, produce, run_eddy
from tests.test_worker_api import call
from tests.test_worker_lifecycle import head_learned

pytestmark = pytest.mark.integration

SIGNER = Signer(SNAPSHOT_KEY.encode())


def secret(name: str) -> str:
    return f"{name}-{secrets.token_hex(16)}"


@dataclass(frozen=True)
class AclUser:
    """A Redis user who may touch only one prefix's keys and channels."""

    name: str
    password: str
    prefix: str

    def url(self, base: str = REDIS_URL) -> str:
        scheme, rest = base.split("://", 1)
        return f"{scheme}://{self.name}:{self.password}@{rest}"


@pytest.fixture
def acl_user(redis_up: None, make_settings: Callable[..., Settings]) -> Iterator[AclUser]:
    """This test's own user, limited to its prefix (as an operator makes
    one per deployment), deleted at the end."""
    prefix = make_settings().redis_prefix
    user = AclUser(f"eddy-{prefix}", secret("redis-password"), prefix)
    admin = redis.Redis.from_url(REDIS_URL)
    admin.acl_setuser(
        user.name,
        enabled=True,
        passwords=[f"+{user.password}"],
        keys=[f"{prefix}:*"],
        channels=[f"{prefix}:*"],
        commands=["+@all", "-@dangerous"],
    )
    try:
        yield user
    finally:
        admin.acl_deluser(user.name)
        admin.close()


def features_of(settings: Settings, ids: list[str]) -> list[tuple[str, str, bytes]]:
    return [
        (settings.topic_features, i, json.dumps({"event_id": i, "features": {"x": n % 3}}).encode())
        for n, i in enumerate(ids)
    ]


def labels_of(settings: Settings, ids: list[str]) -> list[tuple[str, str, bytes]]:
    return [
        (settings.topic_labels, i, json.dumps({"event_id": i, "label": n % 2 == 0}).encode())
        for n, i in enumerate(ids)
    ]


def get(worker: Worker, path: str) -> str:
    url = f"http://127.0.0.1:{worker.settings.web_port}{path}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


async def test_a_worker_as_an_acl_user_of_its_prefix_with_secrets_that_never_show(
    make_settings: Callable[..., Settings],
    spawn: Callable[[Settings], Worker],
    acl_user: AclUser,
    tmp_path: Path,
) -> None:
    url, prefix = acl_user.url(), acl_user.prefix
    admin, client, key = secret("admin-token"), secret("client-token"), secret("snapshot-key")
    password = acl_user.password
    settings = make_settings(
        redis_url=url,
        redis_prefix=prefix,
        admin_token=admin,
        client_token=client,
        snapshot_key=key,
        snapshot_interval_seconds=0.05,
    )
    hidden = {"redis password": password, "admin token": admin, "client token": client}
    hidden["snapshot key"] = key
    worker = spawn(settings)
    await worker.wait_ready()

    # End to end through the ACL user: features in, predictions out, labels learned.
    ids = [f"s{i}" for i in range(40)]
    await produce(settings.kafka_bootstrap, features_of(settings, ids))
    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        await reader.until("40 predictions", lambda v: len(v) >= 40, 30)
    await produce(settings.kafka_bootstrap, labels_of(settings, ids))
    store = Store.connect(url, prefix, 2.0, 10, signer=Signer(key.encode()))
    try:
        await eventually("40 learned", lambda: head_learned(store, settings, 40), 30)
    finally:
        await store.close()

    # The user reaches its own prefix, and nothing else.
    user = redis.Redis.from_url(url)
    try:
        assert user.exists(f"{prefix}:model:{settings.model}:head")
        redis.Redis.from_url(REDIS_URL).set(f"other-{prefix}:secret", "x", ex=60)
        for other in (f"other-{prefix}:secret", "eddy-demo:model:logistic-regression:head"):
            with pytest.raises(NoPermissionError):
                user.get(other)
        with pytest.raises(NoPermissionError):
            user.set(f"other-{prefix}:x", 1)
    finally:
        user.close()

    # Provoked: wrong and missing tokens, bad bodies, bad events.
    answers: list[Any] = []
    for path, body in [
        ("/model/rollback", {"version": 1}),
        ("/learn", {"event_id": "s1", "label": True}),
        ("/predict?learnable=true", {"event_id": "p", "features": {"x": 1}}),
    ]:
        for token in (None, "wrong", client if path.startswith("/model") else None):
            status, answer = call(worker, path, body, token)
            assert status in (401, 403), (path, token, status)
            answers.append(answer)
    for body in (b"not json", b"[" + b"1," * 10 + b"]", {"event_id": 3, "features": []}):
        answers.append(call(worker, "/predict", body)[1])
    await produce(
        settings.kafka_bootstrap,
        [(settings.topic_features, "bad", b"not json"), (settings.topic_labels, "bad", b"{}")],
    )
    async with Reader(settings.kafka_bootstrap, settings.topic_dead_letter) as reader:
        letters = await reader.until("2 dead letters", lambda v: len(v) >= 2, 30)
    events = tmp_path / "events.jsonl"
    events.write_text('{"event_id": "b", "features": {"x": 1}}\n')
    missing = run_eddy(
        settings, "score", str(events), "-o", str(tmp_path / "out"), "--version", "999"
    )
    written = {
        "log": worker.tail(100_000),
        "/status": get(worker, "/status"),
        "/ready": json.dumps(worker.ready()),
        "/metrics": get(worker, "/metrics"),
        "/drift": get(worker, "/drift"),
        "answers": json.dumps(answers),
        "dead letters": json.dumps(letters),
        "eddy score": missing.stdout + missing.stderr,
        "settings": repr(settings) + str(settings),
    }
    assert (
        missing.returncode == 1 and "***" in written["eddy score"]
    )  # the URL was shown, its password masked
    for what, text in written.items():
        for name, value in hidden.items():
            assert value not in text, f"the {name} shows in {what}"


def secured(
    make_settings: Callable[..., Settings], stack: SecureStack, user: AclUser, **over: Any
) -> Settings:
    """Settings of a worker that reaches Kafka through the SASL_SSL listener
    (SCRAM) and Redis through TLS as an ACL user of its prefix, trusting
    the stack's CA."""
    values: dict[str, Any] = {
        "kafka_bootstrap": stack.kafka_bootstrap,
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": stack.kafka_user,
        "kafka_sasl_password": stack.kafka_password,
        "kafka_ssl_cafile": stack.ca,
        "redis_url": user.url(
            f"rediss://127.0.0.1:{stack.redis_tls_port}/0?ssl_ca_certs={stack.ca}"
        ),
        "redis_prefix": user.prefix,
    }
    return make_settings(**(values | over))


async def test_a_worker_through_sasl_ssl_and_redis_tls_as_an_acl_user_end_to_end(
    make_settings: Callable[..., Settings],
    spawn: Callable[[Settings], Worker],
    secure_stack: SecureStack,
    acl_user: AclUser,
) -> None:
    settings = secured(make_settings, secure_stack, acl_user, snapshot_interval_seconds=0.05)
    worker = spawn(settings)
    await worker.wait_ready()
    ids = [f"t{i}" for i in range(30)]
    # The test's own clients use the plaintext listener: the same topics.
    plain = settings.model_copy(update={"kafka_bootstrap": KAFKA_BOOTSTRAP})
    await produce(KAFKA_BOOTSTRAP, features_of(plain, ids))
    async with Reader(KAFKA_BOOTSTRAP, plain.topic_predictions) as reader:
        await reader.until("30 predictions", lambda v: len(v) >= 30, 30)
    await produce(KAFKA_BOOTSTRAP, labels_of(plain, ids))
    store = Store.connect(settings.redis_url, settings.redis_prefix, 2.0, 10, signer=SIGNER)
    try:
        await eventually("30 learned", lambda: head_learned(store, settings, 30), 30)
    finally:
        await store.close()
    log = worker.tail(100_000)
    assert secure_stack.kafka_password not in log and acl_user.password not in log
    assert "NOPERM" not in log


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"kafka_sasl_password": "wrong-password"}, "refused the credentials of user 'eddy'"),
        ({"kafka_ssl_cafile": None}, "its TLS certificate is not trusted"),
    ],
    ids=["wrong-password", "untrusted-certificate"],
)
def test_a_worker_refused_by_kafka_says_why_and_exits(
    make_settings: Callable[..., Settings],
    secure_stack: SecureStack,
    acl_user: AclUser,
    change: dict[str, Any],
    said: str,
) -> None:
    settings = secured(make_settings, secure_stack, acl_user, **change)
    refused = run_eddy(settings, "worker")
    assert refused.returncode != 0
    assert said in refused.stderr, refused.stderr[-2000:]
    assert secure_stack.kafka_password not in refused.stderr + refused.stdout


def test_the_stacks_redis_user_reaches_only_the_default_prefix_over_tls(
    secure_stack: SecureStack,
) -> None:
    url = (
        f"rediss://eddy:{secure_stack.redis_password}@127.0.0.1:{secure_stack.redis_tls_port}/0"
        f"?ssl_ca_certs={secure_stack.ca}"
    )
    user = redis.Redis.from_url(url)
    probe = f"eddy:probe-{secrets.token_hex(4)}"
    try:
        assert user.set(probe, 1, ex=60) and user.get(probe) == b"1"
        with pytest.raises(NoPermissionError):
            user.get("eddy-demo:model:logistic-regression:head")
        with pytest.raises(NoPermissionError):
            user.config_get("requirepass")  # no administrative command either
    finally:
        user.delete(probe)
        user.close()
