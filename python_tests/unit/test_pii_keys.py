"""The pseudonymisation key: sources, precedence, file permissions, refusal without one."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from ingest.pii.keys import KEY_ENV_VAR, PseudonymKey, create_key_file, load_key
from warehouse.errors import WarehouseError

SECRET = "correct-horse-battery-staple-0123456789"


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)


def _key_file(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "pseudonym.key"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_key_from_environment_with_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV_VAR, f"  {SECRET}\n")
    key = load_key(None)
    assert key.key == SECRET.encode()
    assert key.key_id == hashlib.sha256(b"key-id:" + SECRET.encode()).hexdigest()[:12]


def test_environment_wins_over_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = _key_file(tmp_path, "file-key", 0o600)
    monkeypatch.setenv(KEY_ENV_VAR, SECRET)
    assert load_key(path).key == SECRET.encode()


def test_key_from_private_file_matches_the_same_text_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from_file = load_key(_key_file(tmp_path, SECRET + "\n", 0o600))
    monkeypatch.setenv(KEY_ENV_VAR, SECRET)
    assert from_file == load_key(None)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _key_file(tmp_path, SECRET, mode)
    with pytest.raises(WarehouseError) as info:
        load_key(path)
    message = str(info.value)
    assert f"{mode:04o}" in message and "chmod 600" in message
    assert SECRET not in message and "\n" not in message


def test_missing_key_is_refused_with_one_line_saying_how_to_provide_one() -> None:
    with pytest.raises(WarehouseError) as info:
        load_key(None)
    message = str(info.value)
    assert "\n" not in message
    assert "refuses to run" in message and KEY_ENV_VAR in message and "0600" in message


def test_missing_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="does not exist") as info:
        load_key(tmp_path / "absent.key")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["", "  \n"])
def test_empty_keys_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str) -> None:
    with pytest.raises(WarehouseError, match="empty"):
        load_key(_key_file(tmp_path, text, 0o600))
    monkeypatch.setenv(KEY_ENV_VAR, text)
    with pytest.raises(WarehouseError, match="empty"):
        load_key(None)


def test_create_key_file_is_private_random_and_loadable(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secrets" / "pseudonym.key"
    created = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8").strip()
    assert len(text) == 64 and int(text, 16) >= 0  # 32 bytes, hex
    assert load_key(path) == created
    other = create_key_file(tmp_path / "other.key")
    assert other.key != created.key and other.key_id != created.key_id


def test_create_key_file_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "pseudonym.key"
    first = create_key_file(path)
    with pytest.raises(WarehouseError, match="already exists") as info:
        create_key_file(path)
    assert first.key.decode() not in str(info.value)
    assert load_key(path) == first


def test_create_key_file_ignores_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        create_key_file(tmp_path / "pseudonym.key")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "pseudonym.key").stat().st_mode) == 0o600


def test_key_never_appears_in_repr() -> None:
    key = PseudonymKey.from_bytes(SECRET.encode())
    assert SECRET not in repr(key) and key.key_id in repr(key)


@pytest.mark.parametrize("text", ["k" * 5, "k" * 31])
def test_short_keys_are_refused_without_showing_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str
) -> None:
    with pytest.raises(WarehouseError) as info:
        load_key(_key_file(tmp_path, text, 0o600))
    monkeypatch.setenv(KEY_ENV_VAR, text)
    with pytest.raises(WarehouseError) as from_env:
        load_key(None)
    for message in (str(info.value), str(from_env.value)):
        assert f"is {len(text)} bytes; it must be at least 32 bytes" in message
        assert text not in message and "\n" not in message


def test_a_32_byte_key_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV_VAR, "k" * 32)
    assert load_key(None).key == b"k" * 32
