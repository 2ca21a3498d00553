"""How every Kafka client of a process connects: one place turns the
settings (``EDDY_KAFKA_SECURITY_PROTOCOL``, SASL, TLS) into aiokafka's
options (and ``app.streams`` into Faust's credentials, from the same
parts), so that the consumer, the producer and every admin client
authenticate alike; and checks, before the worker
starts, that the brokers accept them, saying in words why not.

>>> sorted(client_options(Settings(kafka_bootstrap="k:9092")).items())
[('bootstrap_servers', 'k:9092'), ('security_protocol', 'PLAINTEXT')]
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed
from aiokafka.helpers import create_ssl_context

from app.errors import ConfigError
from app.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of ``SSL`` and ``SASL_SSL``: the CA file (or the
    system's), the client certificate for mutual TLS, host names checked."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    password = settings.kafka_ssl_key_password
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=_path(settings.kafka_ssl_cafile),
            certfile=_path(settings.kafka_ssl_certfile),
            keyfile=_path(settings.kafka_ssl_keyfile),
            password=None if password is None else password.get_secret_value(),
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"Kafka TLS files: {exc}") from None
    return context


def _path(path: object) -> str | None:
    return None if path is None else str(path)


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (``AIOKafkaConsumer``,
    ``AIOKafkaProducer``, ``AIOKafkaAdminClient``)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol.startswith("SASL_"):
        assert settings.kafka_sasl_password is not None  # the settings saw to it
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def refusal(exc: BaseException, settings: Settings) -> str | None:
    """Why the broker refused us, when it is for good (credentials, an
    untrusted certificate) rather than for the moment; else None."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        where = settings.kafka_ssl_cafile or "the system's CA certificates"
        return (
            f"Kafka at {settings.kafka_bootstrap}: its TLS certificate is not trusted "
            f"({exc.verify_message}; trusted: {where}, see EDDY_KAFKA_SSL_CAFILE)"
        )
    if isinstance(exc, SaslAuthenticationFailed):
        return (
            f"Kafka at {settings.kafka_bootstrap} refused the credentials of user "
            f"{settings.kafka_sasl_username!r} ({settings.kafka_sasl_mechanism}): check "
            "EDDY_KAFKA_SASL_USERNAME, EDDY_KAFKA_SASL_PASSWORD and EDDY_KAFKA_SASL_MECHANISM"
        )
    return None


CHECK_SECONDS = 10.0
"""How long the check waits for each bootstrap server."""


async def check(settings: Settings) -> None:
    """Connect once to each bootstrap server, as every client will; a
    ``ConfigError`` saying why if one refuses us for good. A server that is
    merely away is left to the clients' own retries. (aiokafka's clients log
    a refused password and then raise only "Unable to bootstrap".)"""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return  # no credentials nor certificate to refuse
    options = client_options(settings)
    del options["bootstrap_servers"]
    for server in settings.kafka_bootstrap.split(","):
        host, port = server.strip().rsplit(":", 1)
        try:
            async with asyncio.timeout(CHECK_SECONDS):
                conn = await create_conn(host, int(port), **options)
        except (KafkaError, OSError, TimeoutError) as exc:
            reason = refusal(exc, settings)
            if reason is not None:
                raise ConfigError(reason) from None
            continue
        conn.close()
