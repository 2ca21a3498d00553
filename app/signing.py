"""Signed snapshots: every blob written to Redis carries an HMAC-SHA256 of
its bytes, and none is unpickled before its signature is checked.

A signed blob is ``MAGIC``, the signing key's id (8 hex digits, derived
from the key: nothing to configure), the 32-byte MAC, then the pickle. The
MAC covers what the blob is (the model's line, ``state`` or ``model``, and
the version) as well as its bytes, so a validly signed blob cannot be
passed off as another version or another part. Keys rotate: sign with
the current key, verify with the current or the previous one.

>>> signer = Signer(b"k" * 32)
>>> blob = signer.sign("m:model:3", b"payload")
>>> signer.open("m:model:3", blob)
b'payload'
>>> signer.open("m:model:4", blob)
Traceback (most recent call last):
app.errors.BadSnapshot: signature does not match (key ...)
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from app.errors import BadSnapshot, ConfigError
from app.settings import Settings

log = logging.getLogger(__name__)

MAGIC = b"EDDY-HMAC1"
ID_LENGTH = 8
MAC_LENGTH = 32
HEADER = len(MAGIC) + ID_LENGTH + MAC_LENGTH
MIN_KEY_BYTES = 32


def key_id(key: bytes) -> bytes:
    """A key's public name: the first 8 hex digits of a hash of it."""
    return hashlib.sha256(b"eddy-snapshot-key-id\0" + key).hexdigest()[:ID_LENGTH].encode()


class Signer:
    """Signs what the store writes and opens what it reads."""

    def __init__(
        self, key: bytes | None, previous: bytes | None = None, *, unsigned: bool = False
    ) -> None:
        if key is None and previous is not None:
            raise ConfigError("a previous snapshot key without a current one")
        self._key = key
        self._id = None if key is None else key_id(key)
        self._keys = {key_id(k): k for k in (key, previous) if k is not None}
        self.unsigned = unsigned
        """Whether unsigned snapshots are read (told so explicitly)."""

    @property
    def signs(self) -> bool:
        return self._key is not None

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer:
        """The deployment's keys; ``ConfigError`` when there is none and
        unsigned snapshots were not explicitly allowed."""
        key = _key(settings, "snapshot_key")
        previous = _key(settings, "snapshot_previous_key")
        unsigned = settings.allow_unsigned_snapshots
        signer = cls(key, previous, unsigned=unsigned)
        if key is None and not unsigned:
            raise ConfigError(
                "no snapshot key: set EDDY_SNAPSHOT_KEY or EDDY_SNAPSHOT_KEY_FILE "
                f"(at least {MIN_KEY_BYTES} bytes, e.g. `openssl rand -hex 32`), or "
                "EDDY_ALLOW_UNSIGNED_SNAPSHOTS=true for local use only"
            )
        if unsigned:
            log.warning(
                "EDDY_ALLOW_UNSIGNED_SNAPSHOTS: snapshots without a signature are read%s: "
                "anyone who can write to this Redis prefix chooses the model served",
                "" if key else ", and written unsigned",
            )
        return signer

    def sign(self, context: str, payload: bytes) -> bytes:
        """``payload`` as it is written: signed when there is a key."""
        if self._key is None or self._id is None:
            return payload
        return MAGIC + self._id + _mac(self._key, context, payload) + payload

    def open(self, context: str, blob: bytes) -> bytes:
        """The pickle in ``blob`` once its signature is checked; else
        ``BadSnapshot``, with nothing of the blob in its message."""
        if not blob.startswith(MAGIC):
            if self.unsigned:
                return blob
            raise BadSnapshot("unsigned snapshot", reason="unsigned")
        if len(blob) < HEADER:
            raise BadSnapshot("truncated signature", reason="bad_signature")
        kid = blob[len(MAGIC) : len(MAGIC) + ID_LENGTH]
        key = self._keys.get(kid)
        if key is None:
            shown = kid.decode("ascii", "replace")
            raise BadSnapshot(f"signed with an unknown key ({shown})", reason="unknown_key")
        payload = memoryview(blob)[HEADER:]
        signature = blob[len(MAGIC) + ID_LENGTH : HEADER]
        if not hmac.compare_digest(signature, _mac(key, context, payload)):
            raise BadSnapshot(
                f"signature does not match (key {kid.decode()})", reason="bad_signature"
            )
        return bytes(payload)


def _mac(key: bytes, context: str, payload: bytes | memoryview) -> bytes:
    mac = hmac.new(key, context.encode() + b"\0", hashlib.sha256)
    mac.update(payload)
    return mac.digest()


def _key(settings: Settings, name: str) -> bytes | None:
    """A key from its setting (or its file, read by the settings)."""
    value = getattr(settings, name)
    if value is None:
        return None
    raw: bytes = value.get_secret_value().encode()
    if len(raw) < MIN_KEY_BYTES:
        env = f"EDDY_{name.upper()}"
        raise ConfigError(f"{env}: a key needs at least {MIN_KEY_BYTES} bytes, not {len(raw)}")
    return raw
