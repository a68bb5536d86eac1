"""Serve the dbt docs site: the three files `dbt docs generate` writes for it, on a local address only."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warehouse.errors import WarehouseError
from warehouse.paths import project_root

SITE_FILES = ("index.html", "manifest.json", "catalog.json")


def resolve_target_path(option: Path | None) -> Path:
    """The dbt target folder: the option, else $DBT_TARGET_PATH, else `target`; relative to the project as in dbt."""
    path = option or Path(os.environ.get("DBT_TARGET_PATH") or "target")
    return path if path.is_absolute() else project_root() / path


class _SiteHandler(SimpleHTTPRequestHandler):
    """Only the site's own files: the rest of the target folder (compiled SQL, run results) stays private."""

    def do_GET(self) -> None:
        if not self._allowed():
            self.send_error(404)
            return
        super().do_GET()

    def do_HEAD(self) -> None:
        if not self._allowed():
            self.send_error(404)
            return
        super().do_HEAD()

    def _allowed(self) -> bool:
        name = urlsplit(self.path).path.lstrip("/")  # the site asks for manifest.json?cb=<time>
        return name in ("", *SITE_FILES)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal is for the URL
        pass


def make_server(directory: Path, host: str, port: int) -> ThreadingHTTPServer:
    missing = [name for name in SITE_FILES if not (directory / name).is_file()]
    if missing:
        raise WarehouseError(f"{directory} has no {', '.join(missing)}: run `warehouse dbt docs generate`")
    handler = partial(_SiteHandler, directory=str(directory))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise WarehouseError(f"cannot listen on {host}:{port} ({exc.strerror or type(exc).__name__})") from exc


def serve(directory: Path, host: str, port: int, log: Callable[[str], None]) -> None:
    """Serve until interrupted."""
    server = make_server(directory, host, port)
    bound_host, bound_port = server.server_address[:2]
    log(f"docs site on http://{bound_host}:{bound_port}/ (from {directory}); Ctrl-C stops it")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log("stopped")
    finally:
        server.server_close()
