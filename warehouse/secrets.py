"""Generated secrets (database passwords, the pseudonymisation key) kept outside git with mode 0600."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from warehouse.errors import WarehouseError


def _ensure_private_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)


def read_secret(path: Path) -> str:
    """Read a secret file, refusing one that other users could read."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        raise WarehouseError(f"secret {path} does not exist; run `warehouse db init`") from None
    if mode & 0o077:
        raise WarehouseError(f"secret {path} has mode {mode:04o}; it must be 0600 (chmod 600 {path})")
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise WarehouseError(f"secret {path} is empty")
    return value


def ensure_secret(path: Path, nbytes: int = 24) -> str:
    """Return the secret at `path`, creating a random one (mode 0600) on first use."""
    if path.exists():
        return read_secret(path)
    _ensure_private_dir(path.parent)
    value = secrets.token_urlsafe(nbytes)
    # O_EXCL + 0600 at creation: the value never sits in a file with wider permissions.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value
