"""Where the project and its private state live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from warehouse.errors import WarehouseError


def project_root() -> Path:
    """The folder holding dbt_project.yml: WAREHOUSE_HOME, else the nearest one above the cwd."""
    env = os.environ.get("WAREHOUSE_HOME")
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / "dbt_project.yml").is_file():
            raise WarehouseError(f"WAREHOUSE_HOME={root} does not contain dbt_project.yml")
        return root
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    raise WarehouseError("not inside the warehouse project (no dbt_project.yml here or above); cd into it")


@dataclass(frozen=True)
class StatePaths:
    """The private, gitignored state folder (`.warehouse/` by default)."""

    root: Path

    @classmethod
    def discover(cls) -> StatePaths:
        env = os.environ.get("WAREHOUSE_STATE_DIR")
        if env:
            return cls(Path(env).expanduser().resolve())
        return cls(project_root() / ".warehouse")

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def pg_log(self) -> Path:
        return self.root / "pg.log"

    @property
    def port_file(self) -> Path:
        return self.root / "port"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"
