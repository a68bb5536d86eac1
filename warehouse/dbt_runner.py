"""Run dbt as the `transformer` role, with connection values handed over through the environment
that `profiles.yml` reads with `env_var()`."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from warehouse.db.target import Target
from warehouse.errors import WarehouseError
from warehouse.paths import project_root


def dbt_env(target: Target, dbt_target: str = "dev") -> dict[str, str]:
    dbname = target.ci_database if dbt_target == "ci" else target.database()
    info = target.role("transformer", dbname)
    env = dict(os.environ)
    env.update(
        WAREHOUSE_DB_HOST=info.host,
        WAREHOUSE_DB_PORT=str(info.port),
        WAREHOUSE_DB_USER=info.user,
        # In dbt's environment, not its argv: /proc/<pid>/environ is readable by the same user only,
        # the command line by everyone (`ps`). profiles.yml reads it with env_var(); dbt writes it to
        # none of target/ and logs/ (the privilege tests check).
        WAREHOUSE_DB_PASSWORD=info.password,
        WAREHOUSE_DB_NAME=target.database(),
        WAREHOUSE_CI_DATABASE=target.ci_database,
        DBT_PROFILES_DIR=str(project_root()),
        # dbt would otherwise phone home for anonymous usage stats; this machine is offline.
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env


def dbt_executable() -> str:
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return str(beside)
    found = shutil.which("dbt")
    if not found:
        raise WarehouseError("dbt is not installed in this environment; run `make run`")
    return found


def local_packages_installed(root: Path | None = None) -> bool:
    """Whether `dbt deps` would change nothing: every package is `local:`, the lock file lists the
    same ones, and each is linked into dbt_packages/ from where the lock says.

    dbt deps removes each installed package and links it again. A second dbt process parsing the
    project at that moment (two `warehouse run`s, or the test suite's two workers) reads a missing
    package, so deps does nothing when nothing would change.
    """
    import yaml

    root = root or project_root()
    try:
        wanted = yaml.safe_load((root / "packages.yml").read_text()) or {}
        locked = yaml.safe_load((root / "package-lock.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return False
    wanted_paths = [p.get("local") for p in wanted.get("packages") or []]
    locked_packages = locked.get("packages") or []
    if not wanted_paths or None in wanted_paths or wanted_paths != [p.get("local") for p in locked_packages]:
        return False
    for package in locked_packages:
        link = root / "dbt_packages" / str(package.get("name"))
        if not link.is_symlink() or link.resolve() != (root / package["local"]).resolve():
            return False
    return True


def run_dbt(args: list[str], *, dbt_target: str = "dev", target: Target | None = None) -> int:
    if args[:1] == ["deps"] and local_packages_installed():
        return 0
    target = target or Target.discover()
    env = dbt_env(target, dbt_target)
    command = [dbt_executable(), *args]
    needs_profile = bool(args) and args[0] not in ("deps", "clean", "--version")
    if needs_profile and dbt_target != "dev" and "--target" not in args and "-t" not in args:
        command += ["--target", dbt_target]
    return run_child(command, cwd=project_root(), env=env)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
STOP_GRACE_SECONDS = 10.0


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: the kernel kills it when the process that started it dies, even by
    SIGKILL, which no handler of ours sees. Linux only; elsewhere the parent's handlers must do."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


def run_child(command: list[str], *, cwd: Path, env: dict[str, str]) -> int:
    """Run a child (dbt) that never outlives us.

    It gets a process group of its own, so that stopping it reaches what it started too, and a death
    signal for the case of our being killed outright. Any way out of the wait (Ctrl-C, SIGTERM turned
    into SystemExit by `warehouse.cli.main`, an error) stops the group: first politely, then for good."""
    parent = os.getpid()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, start_new_session=True, preexec_fn=lambda: _die_with_parent(parent)
    )
    try:
        return process.wait()
    except BaseException:
        stop_group(process)
        raise


def stop_group(process: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            # What the child started may still be running in its group after the child itself ended.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue
