"""The pseudonymisation key: where it comes from, and refusing to run without a private one.

The key is the only thing standing between a token and the identifier it replaces (an SSN has
only a billion possible values, so an unkeyed hash is reversible by enumeration). It is therefore
read from the environment or from a file only its owner can read, never logged, and never put in
an error message.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from warehouse.errors import WarehouseError

KEY_ENV_VAR = "WAREHOUSE_PSEUDONYM_KEY"
KEY_BYTES = 32
# HMAC-SHA256's own block-size argument aside, a short key can be guessed (a 5-byte key is 2^40
# tries, an afternoon on one GPU), and with it every token is reversible by enumeration.
MIN_KEY_BYTES = 32


@dataclass(frozen=True)
class PseudonymKey:
    """HMAC key plus a public fingerprint that can be stored next to tokens.

    `key_id` lets the warehouse notice that two loads used different keys (their tokens would not
    join) without revealing the key. `repr=False` keeps the key out of tracebacks and logs.
    """

    key: bytes = field(repr=False)
    key_id: str

    @classmethod
    def from_bytes(cls, key: bytes) -> PseudonymKey:
        return cls(key=key, key_id=key_id(key))


def key_id(key: bytes) -> str:
    # Domain-separated so the fingerprint is not the digest of anything else derived from the key.
    return hashlib.sha256(b"key-id:" + key).hexdigest()[:12]


_HOW_TO_PROVIDE = (
    f"set {KEY_ENV_VAR} or create a key file with mode 0600 "
    "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))' > KEYFILE && chmod 600 KEYFILE`)"
)


def load_key(key_file: Path | None) -> PseudonymKey:
    """The key from $WAREHOUSE_PSEUDONYM_KEY, else from `key_file`; refuse to continue without one.

    Both sources are used as the UTF-8 bytes of their text with surrounding whitespace stripped, so
    `export WAREHOUSE_PSEUDONYM_KEY="$(cat KEYFILE)"` yields the same key, hence the same tokens, as
    pointing at KEYFILE. (A hex key file is not hex-decoded for the same reason.)
    """
    env_value = os.environ.get(KEY_ENV_VAR)
    if env_value is not None:
        text = env_value.strip()
        if not text:
            raise WarehouseError(f"{KEY_ENV_VAR} is set but empty; the loader refuses to run without a key")
        return PseudonymKey.from_bytes(_long_enough(text.encode("utf-8"), KEY_ENV_VAR))
    if key_file is None:
        raise WarehouseError(f"no pseudonymisation key: the loader refuses to run without one; {_HOW_TO_PROVIDE}")
    return read_key_file(key_file)


def read_key_file(path: Path) -> PseudonymKey:
    """The key in `path` (mode 0600, at least MIN_KEY_BYTES), whatever the environment says."""
    return PseudonymKey.from_bytes(_long_enough(_read_key_file(path), f"key file {path}"))


def _long_enough(key: bytes, source: str) -> bytes:
    # The length is said, never the key: the message goes to terminals and logs.
    if len(key) < MIN_KEY_BYTES:
        raise WarehouseError(
            f"the pseudonymisation key from {source} is {len(key)} bytes; it must be at least {MIN_KEY_BYTES} "
            f"bytes (`warehouse key init` writes a random one); the loader refuses to run with a short key"
        )
    return key


def _read_key_file(path: Path) -> bytes:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise WarehouseError(
            f"pseudonymisation key file {path} does not exist: the loader refuses to run without a key; "
            f"{_HOW_TO_PROVIDE}"
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise WarehouseError(f"pseudonymisation key file {path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise WarehouseError(
            f"pseudonymisation key file {path} has mode {mode:04o}; it must be readable by its owner only "
            f"(chmod 600 {path})"
        )
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise WarehouseError(f"pseudonymisation key file {path} is empty; the loader refuses to run without a key")
    return text.encode("utf-8")


def create_key_file(path: Path) -> PseudonymKey:
    """Write a new random key (32 bytes, hex) to `path` with mode 0600 and return it.

    Refuses to overwrite: replacing a key silently breaks the linkage of every token already
    loaded, so a clash must be a human decision.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = secrets.token_hex(KEY_BYTES)
    try:
        # O_EXCL + 0600 at creation: the key never sits in a file with wider permissions, and two
        # concurrent first runs cannot both "win" with different keys.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise WarehouseError(f"pseudonymisation key file {path} already exists; refusing to overwrite it") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
        handle.flush()
        # A key lost in a crash is every token's linkage lost; make it durable before using it.
        os.fsync(handle.fileno())
    return PseudonymKey.from_bytes(text.encode("utf-8"))
