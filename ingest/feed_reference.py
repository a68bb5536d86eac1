"""docs/feed-reference.md, generated from the feed config model (`ingest.config`): every key a feed
YAML may have, its type, default and meaning.

Generated, not written, so that a key added to the model cannot go undocumented: a field without a
description (in `Field(description=...)` or in `DESCRIPTIONS` below) fails the generation, and a test
compares the committed file with a fresh one. Regenerate with `python -m ingest.feed_reference`.
"""

from __future__ import annotations

import sys
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from ingest import config

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "feed-reference.md"

# Fields whose description lives here rather than in the model (the model keeps its comments short).
DESCRIPTIONS: dict[str, str] = {
    "Feed.feed": "The feed's name, snake_case without `__`; must equal the file name (`<feed>.yml`).",
    "Feed.description": "What the feed is (dbt docs, reports).",
    "Feed.landing": "The feed's folder, relative to the landing root (or absolute / a URL); default `<feed>`.",
    "Feed.format": "How its files are written (below); per client in `clients.<client>.format`.",
    "Feed.file_pattern": "Regular expression (RE2) a file name must match. Named groups: `client_id` (required), "
    "`file_date` (read with `file_date_format`), `seq` (order of files of one day). Default "
    "`<client>_<YYYY-MM-DD>[_N].<ext>`. A name without a client can still match a literal group, e.g. "
    "`(?P<client_id>sensorlog)_(?P<file_date>\\d{8})\\.csv`.",
    "Feed.file_date_format": "strptime format of the `file_date` group, e.g. `%Y%m%d` or `%d.%m.%Y`; "
    "default ISO (`2026-11-20`). A name whose date does not parse is rejected like a name that does not match.",
    "Feed.invalid_row_threshold": "Share of invalid rows (0 to 1) above which a file is held as a whole.",
    "Feed.clients": "Per-client overrides, keyed by client id (below).",
    "Feed.entities": "The tables of the feed, keyed by entity name (below); one folder each.",
    "Feed.parquet_output": "Folder or URL for a pseudonymised Parquet copy of what is loaded.",
    "FileFormat.type": "csv, tsv, ndjson or parquet.",
    "FileFormat.delimiter": "One character; default `,` (csv) or a tab (tsv).",
    "FileFormat.encoding": "Text encoding of csv/tsv files (any Python codec name).",
    "FileFormat.header": "csv/tsv: whether the first row names the columns. `false`: columns are read by "
    "`position:` (or their order in `columns`), and the first record is line 1.",
    "FileFormat.quote": "Quote character of csv/tsv files.",
    "FileFormat.compression": "auto (gzip or zip recognised by their first bytes), none, gzip or zip.",
    "FormatOverride.*": "As in `format`; only the keys given replace the feed's.",
    "ClientOverride.format": "This client's format keys (e.g. `delimiter: ';'`, `header: false`).",
    "ClientOverride.invalid_row_threshold": "This client's threshold instead of the feed's.",
    "ClientOverride.whitelist": "Per entity, this client's whitelist instead of the entity's.",
    "ClientOverride.columns": "Per entity, column name -> this client's header name (a string) or 1-based "
    "position (a number): `clients: {acme: {columns: {members: {member_id: MemberNo}}}}`. The renamed "
    "header is accepted for this client only; other clients keep `source`/`sources`.",
    "Entity.description": "What one row is (dbt docs).",
    "Entity.path": "Folder under the feed's folder; default the entity name.",
    "Entity.business_key": "Columns identifying a record; rows are merged on (client, business key).",
    "Entity.incremental": "How files add up (below).",
    "Entity.event_date": "Column holding the date of the event (age at the event is measured there).",
    "Entity.whitelist": "Conditions a row must meet to be loaded; other rows are counted as filtered.",
    "Entity.file_date_from": "The file's date (`_file_date`, which orders versions) from its rows, for names "
    "without one: `{column: read_at, take: max}` takes the latest date of the column's valid rows. Used "
    "instead of a `file_date` in the name. The Parquet copy (`parquet_output`) keeps the name's date.",
    "FileDateFrom.column": "A date or timestamp column of the entity with `pii: none`.",
    "FileDateFrom.take": "max (the latest value, e.g. a log's last reading) or min.",
    "Entity.columns": "The columns (below), in the order of the file when it has no header.",
    "Incremental.mode": "merge (newest version per key wins), watermark (only rows newer than the client's "
    "high-water mark) or reference (the newest file is the client's whole truth).",
    "Incremental.column": "watermark: the timestamp column compared with the watermark.",
    "Incremental.lookback_hours": "watermark: hours before the watermark still loaded.",
    "Condition.column": "A column of the entity.",
    "Condition.in_": "The values (after trimming) that keep the row. Written `in:`.",
}

SECTIONS: tuple[tuple[str, type[BaseModel], str], ...] = (
    ("Feed (top level)", config.Feed, ""),
    ("format", config.FileFormat, "format."),
    ("clients.&lt;client&gt;", config.ClientOverride, "clients.<client>."),
    ("clients.&lt;client&gt;.format", config.FormatOverride, "clients.<client>.format."),
    ("entities.&lt;entity&gt;", config.Entity, "entities.<entity>."),
    ("entities.&lt;entity&gt;.incremental", config.Incremental, "entities.<entity>.incremental."),
    ("entities.&lt;entity&gt;.whitelist[]", config.Condition, "entities.<entity>.whitelist[]."),
    ("entities.&lt;entity&gt;.file_date_from", config.FileDateFrom, "entities.<entity>.file_date_from."),
    ("entities.&lt;entity&gt;.columns[]", config.Column, "entities.<entity>.columns[]."),
)

INTRO = """# Feed file reference

<!-- Generated by `python -m ingest.feed_reference` from the model in ingest/config.py: do not edit. -->

Every key a feed file (`ingest/feeds/<feed>.yml`) may have. An unknown key, a wrong type or a
reference to a column that does not exist is refused with one line naming the file and the field.

Reason codes a column's checks give a quarantined row: `missing_required`, `not_a_number`,
`too_many_digits` (a decimal that does not fit `numeric(precision, scale)`: never rounded),
`bad_date_format`, `bad_timestamp_format`, `not_a_boolean`, `out_of_range`, `not_allowed`,
`future_birth_date`, `invalid_utf8`. A row with no value in any column is not quarantined but
counted as filtered (`empty_row`), named in the file's reason and in a warning of the run output.

How a column finds its cell: in a file with a header, the cell at its `position` (which must carry
its `source` or one of its `sources`) or else the one cell carrying `source`, then each of
`sources`; a client's `clients.<client>.columns` entry replaces both for that client's files. A
name on several cells is read by position only (a file where it is not is held,
`duplicate_header`). In a file without a header (`format.header: false`) the column at `position`,
else at its place in `columns`.
"""


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(m.value for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(str(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        parts = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(parts)
    if origin is list:
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"mapping {_type_name(key)} -> {_type_name(value)}"
    return getattr(annotation, "__name__", str(annotation))


# Defaults a validator fills in, which the field itself cannot show.
FILLED_DEFAULTS = {"Column.source": "`name`"}


def _default(model: type[BaseModel], name: str, field: Any) -> str:
    if f"{model.__name__}.{name}" in FILLED_DEFAULTS:
        return FILLED_DEFAULTS[f"{model.__name__}.{name}"]
    if field.is_required():
        return "required"
    value = field.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value is PydanticUndefined or value is None:
        return ""
    if isinstance(value, BaseModel):
        return "(see below)"
    if isinstance(value, Enum):
        value = value.value
    if value == [] or value == {}:
        return "empty"
    return f"`{value}`"


def _description(model: type[BaseModel], name: str, field: Any) -> str:
    text = field.description or DESCRIPTIONS.get(f"{model.__name__}.{name}") or DESCRIPTIONS.get(f"{model.__name__}.*")
    if not text:
        raise SystemExit(f"ingest/config.py: {model.__name__}.{name} has no description (Field or DESCRIPTIONS)")
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    out = [INTRO]
    for title, model, prefix in SECTIONS:
        out.append(f"## {title}\n")
        out.append("| key | type | default | meaning |")
        out.append("|---|---|---|---|")
        for name, field in model.model_fields.items():
            key = field.alias or name
            out.append(
                f"| `{prefix}{key}` | {_type_name(field.annotation)} | {_default(model, name, field)} | "
                f"{_description(model, name, field)} |"
            )
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write the reference; `--check`: exit 1 when the committed file is out of date."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
        if current != text:
            print(f"{REFERENCE} is out of date: run `python -m ingest.feed_reference`", file=sys.stderr)
            return 1
        return 0
    REFERENCE.write_text(text, encoding="utf-8")
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
