"""`dbt deps` is skipped only when it would change nothing: every local package linked where the lock says."""

from __future__ import annotations

from pathlib import Path

from warehouse.dbt_runner import local_packages_installed

PACKAGES = "packages:\n  - local: local_packages/expectations\n"
LOCK = "packages:\n  - local: local_packages/expectations\n    name: expectations\nsha1_hash: x\n"


def _project(root: Path, packages: str = PACKAGES, lock: str | None = LOCK, link_to: str | None = "expectations"):
    (root / "local_packages" / "expectations").mkdir(parents=True)
    (root / "local_packages" / "other").mkdir()
    (root / "packages.yml").write_text(packages)
    if lock is not None:
        (root / "package-lock.yml").write_text(lock)
    (root / "dbt_packages").mkdir()
    if link_to:
        (root / "dbt_packages" / "expectations").symlink_to(root / "local_packages" / link_to)
    return root


def test_installed_when_every_locked_local_package_is_linked(tmp_path: Path) -> None:
    assert local_packages_installed(_project(tmp_path)) is True


def test_not_installed_without_the_link_or_the_lock(tmp_path: Path) -> None:
    assert local_packages_installed(_project(tmp_path / "a", link_to=None)) is False
    assert local_packages_installed(_project(tmp_path / "b", lock=None)) is False


def test_not_installed_when_the_link_points_elsewhere(tmp_path: Path) -> None:
    assert local_packages_installed(_project(tmp_path, link_to="other")) is False


def test_not_installed_when_packages_yml_changed_since_the_lock(tmp_path: Path) -> None:
    changed = PACKAGES + "  - local: local_packages/other\n"
    assert local_packages_installed(_project(tmp_path, packages=changed)) is False
    hub = "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n"
    assert local_packages_installed(_project(tmp_path / "hub", packages=hub)) is False
