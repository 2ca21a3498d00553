"""The Kafka clients' security options, from the settings, without a broker."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from faust.auth import SASLCredentials

from app.errors import ConfigError
from app.kafka_auth import client_options
from app.settings import Settings
from app.streams import faust_credentials


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed client certificate and its key (PEM), made by openssl."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "client.pem", where / "client.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=client", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_sasl_ssl_gives_every_client_the_same_credentials_and_tls(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    settings = Settings(
        kafka_bootstrap="k1:9093,k2:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="svc",
        kafka_sasl_password="pw",
        kafka_ssl_cafile=cert,  # any PEM certificate will do as a CA here
        kafka_ssl_certfile=cert,
        kafka_ssl_keyfile=key,
    )
    options = client_options(settings)
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "k1:9093,k2:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "pw",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert context.get_ca_certs()  # the CA file was loaded
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    assert (
        credentials.protocol.value == "SASL_SSL" and credentials.mechanism.value == "SCRAM-SHA-256"
    )
    assert "pw" not in repr(credentials)


def test_ssl_alone_and_plaintext() -> None:
    ssl_only = Settings(kafka_security_protocol="SSL")
    assert isinstance(faust_credentials(ssl_only), ssl.SSLContext)
    assert "sasl_mechanism" not in client_options(ssl_only)
    plain = Settings()
    assert faust_credentials(plain) is None and "ssl_context" not in client_options(plain)


def test_unreadable_tls_files_are_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "not.pem").write_text("not a certificate")
    files: list[dict[str, Any]] = [
        {"kafka_ssl_cafile": tmp_path / "none.pem"},
        {"kafka_ssl_certfile": tmp_path / "not.pem"},
    ]
    for given in files:
        settings = Settings(kafka_security_protocol="SSL", **given)
        with pytest.raises(ConfigError, match="Kafka TLS files"):
            client_options(settings)


def test_sasl_needs_a_user_and_a_password_and_tls_files_need_tls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs EDDY_KAFKA_SASL_USERNAME"):
        Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="svc")
    with pytest.raises(ValueError, match="has no TLS"):
        Settings(kafka_ssl_cafile=tmp_path)
    password = tmp_path / "password"
    password.write_text("from-a-file\n")
    settings = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="svc",
        kafka_sasl_password_file=password,
    )
    assert client_options(settings)["sasl_plain_password"] == "from-a-file"
    assert "from-a-file" not in repr(settings)
