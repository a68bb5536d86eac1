"""The documentation gate: every model, seed, snapshot and source table of this project, and every
column of them (as written in the yml and as found in the database), has a description; models say
who owns them and which layer they are in; columns of refined and derived models carry a PII class.

Reads what `dbt docs generate` writes: `manifest.json` (the yml) and `catalog.json` (the database).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.config import PiiClass
from warehouse.errors import WarehouseError

CHECKED_TYPES = ("model", "seed", "snapshot")
# Loader PII classes, plus `surrogate`: a key dbt derives itself (a hash of other columns).
PII_CLASSES = frozenset({*(c.value for c in PiiClass), "surrogate"})
PII_KEY = "pii_class"
MODEL_META_KEYS = ("owner", "layer")
PII_LAYERS = frozenset({"refined", "derived"})
GENERATE_HINT = "run `warehouse dbt docs generate` (after `warehouse dbt build`)"

Json = dict[str, Any]


@dataclass(frozen=True)
class Problem:
    resource: str  # e.g. "model healthcare_warehouse.patient"
    where: str  # the file to fix
    message: str

    def __str__(self) -> str:
        return f"{self.resource} ({self.where}): {self.message}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    resources: dict[str, int] = field(default_factory=dict)  # checked resources by type
    columns: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        counts = ", ".join(_count(n, kind) for kind, n in sorted(self.resources.items()))
        checked = f"{counts or 'no resources'} and {_count(self.columns, 'column')}"
        if self.ok:
            return f"docs check passed: {checked} documented"
        failed = (
            f"{_count(len(self.problems), 'problem')} in {_count(len({p.resource for p in self.problems}), 'resource')}"
        )
        return f"docs check failed: {failed} (checked {checked})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def load_artifact(path: Path) -> Json:
    if not path.is_file():
        raise WarehouseError(f"{path} not found: {GENERATE_HINT}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WarehouseError(f"{path} is not readable JSON ({type(exc).__name__}): {GENERATE_HINT}") from exc
    if not isinstance(data, dict):
        raise WarehouseError(f"{path} is not a dbt artifact: {GENERATE_HINT}")
    return data


def check_target(target_path: Path) -> Report:
    """Check `manifest.json` and `catalog.json` in a dbt target folder."""
    manifest = load_artifact(target_path / "manifest.json")
    catalog = load_artifact(target_path / "catalog.json")
    return check(manifest, catalog)


def _meta(entry: Mapping[str, Any]) -> Json:
    """`meta` as dbt resolves it: the top-level key, overridden by `config.meta`."""
    config = entry.get("config") or {}
    return {**(entry.get("meta") or {}), **(config.get("meta") or {})}


def _described(entry: Mapping[str, Any]) -> bool:
    return bool(str(entry.get("description") or "").strip())


def _where(entry: Mapping[str, Any]) -> str:
    patch = entry.get("patch_path")  # "<package>://models/x.yml": where the description goes
    if patch:
        return str(patch).split("://", 1)[-1]
    return str(entry.get("original_file_path") or "?")


def _resources(manifest: Json, project: str) -> Iterable[tuple[str, Json, str]]:
    """(kind, manifest entry, catalog section) for this project's checked resources, in a stable order."""
    for uid in sorted(manifest.get("nodes") or {}):
        node = manifest["nodes"][uid]
        if node.get("resource_type") in CHECKED_TYPES and node.get("package_name") == project:
            yield node["resource_type"], node, "nodes"
    for uid in sorted(manifest.get("sources") or {}):
        source = manifest["sources"][uid]
        if source.get("package_name") == project:
            yield "source", source, "sources"


def _label(kind: str, entry: Json) -> str:
    if kind == "source":
        return f"source {entry.get('source_name')}.{entry.get('name')}"
    return f"{kind} {entry.get('name')}"


def check(manifest: Json, catalog: Json) -> Report:
    project = (manifest.get("metadata") or {}).get("project_name")
    if not project:
        raise WarehouseError(f"manifest.json names no project (metadata.project_name): {GENERATE_HINT}")
    report = Report()
    for kind, entry, section in _resources(manifest, project):
        report.resources[kind] = report.resources.get(kind, 0) + 1
        found = _check_resource(kind, entry, (catalog.get(section) or {}).get(entry["unique_id"]))
        report.problems.extend(found.problems)
        report.columns += found.columns
    return report


def _check_resource(kind: str, entry: Json, in_catalog: Json | None) -> Report:
    label, where = _label(kind, entry), _where(entry)
    report = Report()

    def problem(message: str) -> None:
        report.problems.append(Problem(label, where, message))

    if not _described(entry):
        problem("no description")
    meta = _meta(entry)
    if kind == "model":
        missing = [key for key in MODEL_META_KEYS if not str(meta.get(key) or "").strip()]
        if missing:
            problem(f"meta has no {' or '.join(missing)}")

    documented = {name.lower(): column for name, column in (entry.get("columns") or {}).items()}
    ephemeral = (entry.get("config") or {}).get("materialized") == "ephemeral"
    if in_catalog is None and not ephemeral:
        problem("not in catalog.json: not in the database `dbt docs generate` read (build it first)")
    in_database = {name.lower() for name in ((in_catalog or {}).get("columns") or {})}

    needs_pii = kind == "model" and meta.get("layer") in PII_LAYERS
    for name in sorted(set(documented) | in_database):
        report.columns += 1
        column = documented.get(name)
        if column is None:
            problem(f"column {name}: in the database but not documented in the yml")
            continue
        if not _described(column):
            problem(f"column {name}: no description")
        if in_catalog is not None and name not in in_database:
            problem(f"column {name}: documented but not in the database")
        if needs_pii:
            message = _pii_problem(_meta(column), meta)
            if message:
                problem(f"column {name}: {message}")
    return report


def _pii_problem(column_meta: Json, model_meta: Json) -> str | None:
    """A column's PII class is its own `pii_class`, else `none` when the model says `contains_pii: false`."""
    declared = column_meta.get(PII_KEY)
    if declared is None:
        if model_meta.get("contains_pii") is False:
            return None
        return f"meta has no {PII_KEY} (one of {', '.join(sorted(PII_CLASSES))}), nor the model contains_pii: false"
    if declared not in PII_CLASSES:
        return f"{PII_KEY} {declared!r} is not one of {', '.join(sorted(PII_CLASSES))}"
    if declared != "none" and model_meta.get("contains_pii") is False:
        return f"{PII_KEY} {declared} in a model whose meta says contains_pii: false"
    return None
