"""Which pseudonymisation key a database's tokens are made with, and changing it only on purpose.

Tokens are one-way keyed HMACs: two keys give the same person two tokens that never join. So each
database records the id (the public fingerprint, never the key) of the key it uses, in the
append-only `audit.pseudonym_keys`; the loader refuses any other key, and only `warehouse key
rotate` records a new one. See docs/key-rotation.md.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg2.extensions

from ingest.pii.keys import KEY_ENV_VAR, PseudonymKey, create_key_file, load_key, read_key_file
from warehouse.errors import WarehouseError

ROTATION_DOC = "docs/key-rotation.md"
NEW_KEY_SUFFIX = ".new"  # pseudonym.key.new: where the next key waits until `warehouse key rotate`


def active_key_id(conn: psycopg2.extensions.connection) -> str | None:
    """The id of the key this database's tokens are made with; None before the first ingest."""
    with conn.cursor() as cur:
        cur.execute("select to_regclass('audit.pseudonym_keys') is not null")
        if not cur.fetchone()[0]:
            raise WarehouseError("this database lacks audit.pseudonym_keys: run `warehouse db init`")
        # The newest row wins: the table is a history, appended to on first use and on each rotation.
        cur.execute("select key_id from audit.pseudonym_keys order by id desc limit 1")
        row = cur.fetchone()
    return row[0] if row else None


def record_key(conn: psycopg2.extensions.connection, key: PseudonymKey, previous_key_id: str | None) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "insert into audit.pseudonym_keys (key_id, previous_key_id, activated_by) values (%s, %s, %s)",
            (key.key_id, previous_key_id, _os_user()),
        )
    if not conn.autocommit:
        conn.commit()


def check_key(conn: psycopg2.extensions.connection, key: PseudonymKey) -> None:
    """Before the loader writes anything: the first key a database sees is its key; any other is refused.

    Call it holding the loader lock, so that two first runs cannot record two keys.
    """
    active = active_key_id(conn)
    if active is None:
        record_key(conn, key, previous_key_id=None)
    elif active != key.key_id:
        raise WarehouseError(
            f"the pseudonymisation key (id {key.key_id}) differs from the one this database uses (id {active}); "
            f"tokens would not join. If you mean to change keys run `warehouse key rotate` (see {ROTATION_DOC})"
        )


@dataclass(frozen=True)
class Rotation:
    previous_key_id: str | None
    key_id: str
    recorded: bool  # False: the database already used this key
    source: str  # where the new key came from
    retired_file: Path | None  # where the old key file went, when a waiting key file replaced it


def new_key_file(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + NEW_KEY_SUFFIX)


def rotate(
    conn: psycopg2.extensions.connection,
    key_file: Path,
    *,
    generate: bool,
    confirmed: bool,
    claim_lock: Callable[[psycopg2.extensions.connection], bool],
    log: Callable[[str], None],
) -> Rotation:
    """Make the next key the one this database and the loader use, and record it (append-only).

    The next key is read the way the loader reads keys, never from the command line: from
    $WAREHOUSE_PSEUDONYM_KEY if set, else from `<key file>.new` (mode 0600; `generate` writes a random
    one), else from the key file itself (a second database catching up with a rotation done for the
    first). A waiting `.new` file replaces the key file only after the rotation is recorded; the
    old key file is kept beside it as `<key file>.retired-<id>` (see docs/key-rotation.md).
    """
    waiting = new_key_file(key_file)
    if os.environ.get(KEY_ENV_VAR) is not None:
        if generate:
            raise WarehouseError(f"--generate writes a key file, but {KEY_ENV_VAR} is set and would win: unset it")
        key, source = load_key(None), KEY_ENV_VAR
    else:
        if generate:
            create_key_file(waiting)
            log(f"wrote a new random key to {waiting} (mode 0600)")
        if waiting.exists():
            key, source = read_key_file(waiting), str(waiting)
        else:
            key, source = read_key_file(key_file), str(key_file)

    if not claim_lock(conn):
        raise WarehouseError("a `warehouse ingest` is running against this database; rotate when it ends")
    active = active_key_id(conn)
    recorded = active != key.key_id
    if recorded:
        if active is not None and not confirmed:
            raise WarehouseError(
                f"rotating from key id {active} to {key.key_id}: tokens made before and after never join; "
                f"rerun with --yes if that is what you want (see {ROTATION_DOC})"
            )
        record_key(conn, key, previous_key_id=active)

    retired = None
    if source == str(waiting):
        retired = _install(waiting, key_file)
    return Rotation(active, key.key_id, recorded, source, retired)


def _install(waiting: Path, key_file: Path) -> Path | None:
    """`.new` becomes the key file; the old key file is kept, renamed after its id.

    After the database recorded the new id: a crash in between leaves a loader that refuses to run
    (the old key against the new id), never one that mixes tokens, and rerunning rotate finishes.
    """
    retired = None
    if key_file.exists():
        old = read_key_file(key_file)
        retired = key_file.with_name(f"{key_file.name}.retired-{old.key_id}")
        os.replace(key_file, retired)
    os.replace(waiting, key_file)
    # The renames must survive a crash as the database row does.
    fd = os.open(key_file.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return retired


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
