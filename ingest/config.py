"""Feed configuration: one YAML file per feed in `ingest/feeds/`, validated on load.

Onboarding a client or a feed is editing YAML, never code, so every mistake in a YAML file must come
back as one line naming the file and the field.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from warehouse.errors import WarehouseError

DEFAULT_PATTERN = r"^(?P<client_id>[a-z0-9]+)_(?P<file_date>\d{{4}}-\d{{2}}-\d{{2}})(?:_(?P<seq>\d+))?\.{ext}$"
EXTENSIONS = {"csv": "csv", "tsv": "(?:tsv|txt)", "ndjson": "(?:ndjson|jsonl)", "parquet": "parquet"}
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# numeric(18, 6): money to the cent and most measurements as written; wider values need `precision`/`scale`.
DEFAULT_PRECISION = 18
DEFAULT_SCALE = 6
MAX_PRECISION = 38  # Arrow decimal128

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the error comes back as the config's one line, not on stderr


@functools.lru_cache(maxsize=256)
def compile_linear(pattern: str) -> re2._Regexp:
    """A regular expression from a feed config, matched in time linear in the text (RE2).

    Python's `re` backtracks: a pattern like `(a|aa)+` against a long file name takes exponential
    time, and a feed's YAML is not trusted code. RE2 has no backreferences or lookaround; a pattern
    using them is refused at config load. Named groups `(?P<name>...)` work as in `re`."""
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"{reason} (patterns use RE2 syntax: no backreferences or lookaround)") from None


class PiiClass(StrEnum):
    identifier = "identifier"  # keyed HMAC token
    direct = "direct"  # dropped
    birth_date = "birth_date"  # age and year of birth in <table>_calculated
    zip = "zip"  # three-digit prefix
    free_text = "free_text"  # scanned and redacted
    none = "none"  # kept, still scanned


class ColumnType(StrEnum):
    string = "string"
    integer = "integer"
    decimal = "decimal"
    date = "date"
    timestamp = "timestamp"
    boolean = "boolean"


class Strict(BaseModel):
    # A typo in a key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileFormat(Strict):
    type: Literal["csv", "tsv", "ndjson", "parquet"] = "csv"
    delimiter: str | None = None
    encoding: str = "utf-8"
    header: bool = True
    quote: str = '"'
    # What the file is packed in; `auto` also unpacks a gzip or zip file that says so by its first bytes
    # (a client's export renamed to .csv), `none` reads the bytes as they are.
    compression: Literal["auto", "none", "gzip", "zip"] = "auto"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _delimiter(self) -> FileFormat:
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError("delimiter must be a single character")
        return self

    @property
    def effective_delimiter(self) -> str:
        if self.delimiter:
            return self.delimiter
        return "\t" if self.type == "tsv" else ","


class FormatOverride(Strict):
    type: Literal["csv", "tsv", "ndjson", "parquet"] | None = None
    delimiter: str | None = None
    encoding: str | None = None
    header: bool | None = None
    quote: str | None = None
    compression: Literal["auto", "none", "gzip", "zip"] | None = None


class Condition(Strict):
    column: str
    in_: list[str] = Field(alias="in")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Column(Strict):
    source: str = Field(
        description="Header name (NDJSON key, Parquet column) in the file; defaults to `name`. "
        "A client's own header name goes in `clients.<client>.columns`."
    )
    sources: list[str] = Field(
        default=[],
        description="Other header names accepted for this column in any client's file (first one present is used).",
    )
    position: int | None = Field(
        default=None,
        ge=1,
        description="1-based position in the row. Files without a header (`format.header: false`): the column's "
        "place (default: its place in `columns`). Files with a header: picks one of several cells with the same "
        "name, and the cell there must carry `source` (or one of `sources`).",
    )
    name: str = Field(description="Canonical snake_case name in `raw` and downstream.")
    type: ColumnType = Field(
        default=ColumnType.string,
        description="string, integer, decimal (exact: numeric(precision, scale)), date, timestamp or boolean.",
    )
    required: bool = Field(default=False, description="A missing value quarantines the row (`missing_required`).")
    # No default: a column onboarded without thinking about PII once landed an MRN in raw in clear.
    pii: PiiClass = Field(description="PII class: identifier, direct, birth_date, zip, free_text or none. Required.")
    format: str | list[str] | None = Field(
        default=None,
        description="date/timestamp: a strptime format or a list of them; each value takes the first that parses "
        "(so put `%d/%m/%Y` before `%m/%d/%Y` only if day-first is what the client means: 03/04 reads as 3 April).",
    )
    precision: int | None = Field(
        default=None,
        ge=1,
        le=MAX_PRECISION,
        description=f"decimal: total digits (default {DEFAULT_PRECISION}). More integer digits than "
        "precision - scale quarantine the row (`too_many_digits`).",
    )
    scale: int | None = Field(
        default=None,
        ge=0,
        le=MAX_PRECISION,
        description=f"decimal: digits after the point (default {DEFAULT_SCALE}). A value with more (non-zero) "
        "decimals is quarantined (`too_many_digits`), never rounded.",
    )
    min: float | None = Field(default=None, description="integer/decimal: smallest valid value (`out_of_range`).")
    max: float | None = Field(default=None, description="integer/decimal: largest valid value (`out_of_range`).")
    allowed: list[str] | None = Field(default=None, description="The only valid values (`not_allowed`).")
    description: str | None = Field(default=None, description="What the column holds (dbt docs, reports).")

    @model_validator(mode="before")
    @classmethod
    def _source_defaults_to_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "source" not in data and isinstance(data.get("name"), str):
            return {**data, "source": data["name"]}
        return data

    @property
    def formats(self) -> tuple[str, ...]:
        if self.format is None:
            return ()
        return (self.format,) if isinstance(self.format, str) else tuple(self.format)

    @property
    def accepted_sources(self) -> tuple[str, ...]:
        return (self.source, *(s for s in self.sources if s != self.source))

    @property
    def decimal_precision(self) -> int:
        return self.precision if self.precision is not None else max(DEFAULT_PRECISION, self.decimal_scale + 1)

    @property
    def decimal_scale(self) -> int:
        return self.scale if self.scale is not None else DEFAULT_SCALE

    @field_validator("name")
    @classmethod
    def _snake_case(cls, value: str) -> str:
        if not IDENTIFIER.match(value):
            raise ValueError(f"{value!r} must be snake_case: lowercase letters, digits, underscores")
        if value.startswith("_"):
            raise ValueError(f"{value!r}: names starting with _ are reserved for lineage columns")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Column:
        numeric = self.type in (ColumnType.integer, ColumnType.decimal)
        if (self.min is not None or self.max is not None) and not numeric:
            raise ValueError(f"column {self.name}: min/max need type integer or decimal")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"column {self.name}: min is greater than max")
        if self.format is not None and self.type not in (ColumnType.date, ColumnType.timestamp):
            raise ValueError(f"column {self.name}: format applies to date and timestamp columns only")
        if isinstance(self.format, list) and not self.format:
            raise ValueError(f"column {self.name}: format is an empty list")
        if any("%" not in f for f in self.formats):
            raise ValueError(f"column {self.name}: format needs strptime directives such as %Y-%m-%d")
        if (self.precision is not None or self.scale is not None) and self.type is not ColumnType.decimal:
            raise ValueError(f"column {self.name}: precision/scale apply to decimal columns only")
        if self.type is ColumnType.decimal and self.decimal_scale >= self.decimal_precision:
            raise ValueError(f"column {self.name}: scale must be smaller than precision")
        if self.pii is PiiClass.birth_date and self.type is not ColumnType.date:
            raise ValueError(f"column {self.name}: pii birth_date needs type date")
        return self


class Incremental(Strict):
    mode: Literal["merge", "watermark", "reference"] = "merge"
    column: str | None = None
    lookback_hours: float = 24.0

    @model_validator(mode="after")
    def _watermark_column(self) -> Incremental:
        if self.mode == "watermark" and not self.column:
            raise ValueError("incremental mode watermark needs `column`")
        return self


class FileDateFrom(Strict):
    column: str
    take: Literal["max", "min"] = "max"


class Entity(Strict):
    description: str | None = None
    path: str | None = None
    business_key: list[str]
    incremental: Incremental = Incremental()
    event_date: str | None = None
    whitelist: list[Condition] = []
    # The file's date from its rows (a sensor log's last reading) when its name carries none.
    file_date_from: FileDateFrom | None = None
    columns: Annotated[list[Column], Field(min_length=1)]

    @model_validator(mode="after")
    def _references(self) -> Entity:
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate column names: {', '.join(duplicates)}")
        # Two columns may read cells of the same name (a sensor log's two `Celle 5:`) only by position.
        sources = [c.source for c in self.columns if c.position is None]
        duplicates = sorted({s for s in sources if sources.count(s) > 1})
        if duplicates:
            raise ValueError(f"duplicate source columns: {', '.join(duplicates)} (tell them apart by `position:`)")
        positions = [c.position for c in self.columns if c.position is not None]
        duplicates = sorted({str(p) for p in positions if positions.count(p) > 1})
        if duplicates:
            raise ValueError(f"duplicate column positions: {', '.join(duplicates)}")
        by_name = {c.name: c for c in self.columns}
        if sum(c.pii is PiiClass.birth_date for c in self.columns) > 1:
            raise ValueError("at most one column per entity may have pii birth_date")
        for key in self.business_key:
            if key not in by_name:
                raise ValueError(f"business_key {key!r} is not a column")
            if by_name[key].pii is PiiClass.direct:
                raise ValueError(f"business_key {key!r} is a direct identifier, which is dropped")
        for label, ref in (("event_date", self.event_date), ("incremental.column", self.incremental.column)):
            if ref and ref not in by_name:
                raise ValueError(f"{label} {ref!r} is not a column")
        for condition in self.whitelist:
            if condition.column not in by_name:
                raise ValueError(f"whitelist column {condition.column!r} is not a column")
        if self.file_date_from is not None:
            source = by_name.get(self.file_date_from.column)
            if source is None:
                raise ValueError(f"file_date_from column {self.file_date_from.column!r} is not a column")
            if source.type not in (ColumnType.date, ColumnType.timestamp):
                raise ValueError(f"file_date_from column {source.name!r} needs type date or timestamp")
            if source.pii is not PiiClass.none:
                raise ValueError(f"file_date_from column {source.name!r} must have pii none (stored on every row)")
        return self

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


class ClientOverride(Strict):
    format: FormatOverride | None = None
    invalid_row_threshold: float | None = Field(default=None, ge=0, le=1)
    whitelist: dict[str, list[Condition]] | None = None  # per entity
    # Per entity, column name -> this client's header name, or its 1-based position (an int).
    columns: dict[str, dict[str, str | int]] | None = None


class Feed(Strict):
    feed: str
    description: str | None = None
    landing: str | None = None
    format: FileFormat = FileFormat()
    file_pattern: str | None = None
    # strptime format of file_pattern's `file_date` group (default ISO, 2026-11-20), e.g. %Y%m%d.
    file_date_format: str | None = None
    invalid_row_threshold: float = Field(default=0.05, ge=0, le=1)
    clients: dict[str, ClientOverride] = {}
    entities: dict[str, Entity]
    parquet_output: str | None = None

    @field_validator("feed")
    @classmethod
    def _feed_name(cls, value: str) -> str:
        if not IDENTIFIER.match(value) or "__" in value:
            raise ValueError(f"{value!r} must be snake_case without double underscores")
        return value

    @field_validator("landing")
    @classmethod
    def _inside_landing_zone(cls, value: str | None) -> str | None:
        # Relative to the landing root; `..` would read any folder the loader can (/etc/passwd once
        # reached audit.schema_drift). Absolute paths are checked against the root when listed.
        if value is not None and ".." in value.replace("\\", "/").split("/"):
            raise ValueError(f"{value!r} leaves the landing zone: give a folder inside it, relative to its root")
        return value

    @field_validator("file_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            compiled = compile_linear(value)
        except ValueError as exc:
            raise ValueError(f"file_pattern is not a valid regular expression: {exc}") from None
        if "client_id" not in compiled.groupindex:
            raise ValueError("file_pattern needs a named group (?P<client_id>...)")
        return value

    @model_validator(mode="after")
    def _entities(self) -> Feed:
        if not self.entities:
            raise ValueError("a feed needs at least one entity")
        for name in self.entities:
            if not IDENTIFIER.match(name) or "__" in name:
                raise ValueError(f"entity {name!r} must be snake_case without double underscores")
            # PostgreSQL truncates names past 63 bytes; the longest we derive is stage__<feed>__<entity>_quarantine.
            if len(f"stage__{self.feed}__{name}_quarantine") > 63:
                raise ValueError(
                    f"feed and entity names {self.feed!r} + {name!r} are too long (44 characters together)"
                )
        for client, override in self.clients.items():
            for entity in override.whitelist or {}:
                if entity not in self.entities:
                    raise ValueError(f"clients.{client}.whitelist names unknown entity {entity!r}")
            for entity, mapping in (override.columns or {}).items():
                if entity not in self.entities:
                    raise ValueError(f"clients.{client}.columns names unknown entity {entity!r}")
                for column, source in mapping.items():
                    if column not in {c.name for c in self.entities[entity].columns}:
                        raise ValueError(f"clients.{client}.columns.{entity}: {column!r} is not a column")
                    if isinstance(source, int) and source < 1:
                        raise ValueError(f"clients.{client}.columns.{entity}.{column}: positions start at 1")
            fmt = self.format_for(client)
            if not fmt.header and fmt.type not in ("csv", "tsv"):
                raise ValueError(f"clients.{client}.format.header: false applies to csv and tsv files only")
        if not self.format.header and self.format.type not in ("csv", "tsv"):
            raise ValueError("format.header: false applies to csv and tsv files only")
        if self.file_date_format is not None and "%" not in self.file_date_format:
            raise ValueError("file_date_format needs strptime directives such as %Y%m%d")
        return self

    # ---- derived settings -------------------------------------------------------------------------
    def pattern(self) -> re2._Regexp:
        return compile_linear(self.file_pattern or DEFAULT_PATTERN.format(ext=EXTENSIONS[self.format.type]))

    def format_for(self, client_id: str) -> FileFormat:
        override = self.clients.get(client_id)
        if not override or not override.format:
            return self.format
        changes = {k: v for k, v in override.format.model_dump().items() if v is not None}
        return self.format.model_copy(update=changes)

    def threshold_for(self, client_id: str) -> float:
        override = self.clients.get(client_id)
        if override and override.invalid_row_threshold is not None:
            return override.invalid_row_threshold
        return self.invalid_row_threshold

    def whitelist_for(self, entity: str, client_id: str) -> list[Condition]:
        override = self.clients.get(client_id)
        if override and override.whitelist and entity in override.whitelist:
            return override.whitelist[entity]
        return self.entities[entity].whitelist

    def entity_for(self, entity: str, client_id: str | None) -> Entity:
        """The entity as this client's files carry it: its renamed or repositioned header cells."""
        override = self.clients.get(client_id) if client_id else None
        mapping = (override.columns or {}).get(entity) if override else None
        if not mapping:
            return self.entities[entity]
        columns = []
        for column in self.entities[entity].columns:
            source = mapping.get(column.name)
            if isinstance(source, str):
                column = column.model_copy(update={"source": source, "sources": []})
            elif isinstance(source, int):
                column = column.model_copy(update={"position": source})
            columns.append(column)
        return self.entities[entity].model_copy(update={"columns": columns})

    def table(self, entity: str) -> str:
        return f"{self.feed}__{entity}"


PII_REQUIRED = "pii is required: declare identifier, direct, birth_date, zip, free_text or none"


def _missing_pii(error: dict[str, Any], data: dict[str, Any] | None) -> str | None:
    """`entities.E.columns[i] (name): pii is required ...` for a column without `pii:`, else None."""
    loc = error["loc"]
    if error["type"] != "missing" or len(loc) != 5 or loc[0] != "entities" or loc[2] != "columns" or loc[4] != "pii":
        return None
    try:
        column = (data or {})["entities"][loc[1]]["columns"][loc[3]]
        label = column.get("name") or column.get("source")
    except (KeyError, IndexError, TypeError, AttributeError):
        label = None
    named = f" ({label})" if isinstance(label, str) else ""
    return f"entities.{loc[1]}.columns[{loc[3]}]{named}: {PII_REQUIRED}"


def _describe(error: dict[str, Any], data: dict[str, Any] | None = None) -> str:
    missing_pii = _missing_pii(error, data)
    if missing_pii:
        return missing_pii
    where = ".".join(str(part) for part in error["loc"] if part != "__root__")
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field (typo?)"
    return f"{where}: {message}" if where else message


def load_feed(path: Path) -> Feed:
    """Parse and validate one feed file; any problem is one line naming the file and the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise WarehouseError(f"feed config {path}: not valid YAML{at}") from None
    except OSError as exc:
        raise WarehouseError(f"feed config {path}: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise WarehouseError(f"feed config {path}: expected a mapping at the top level")
    try:
        feed = Feed.model_validate(data)
    except ValidationError as exc:
        # A misspelt key shows up twice: as itself (unknown) and as the key it should have been
        # (missing). The unknown one names the typo, so it goes first; then an undeclared PII class,
        # the mistake that leaks data.
        errors = sorted(exc.errors(), key=lambda e: (e["type"] != "extra_forbidden", _missing_pii(e, data) is None))
        first = errors[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise WarehouseError(f"feed config {path}: {_describe(first, data)}{more}") from None
    if feed.feed != path.stem:
        raise WarehouseError(f"feed config {path}: feed {feed.feed!r} must match the file name {path.stem!r}")
    return feed


def default_feeds_dir() -> Path:
    return Path(__file__).parent / "feeds"


def load_feeds(directory: Path | None = None) -> dict[str, Feed]:
    folder = directory or default_feeds_dir()
    if not folder.is_dir():
        raise WarehouseError(f"feed config folder {folder} does not exist")
    feeds = {}
    for path in sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml")):
        feed = load_feed(path)
        feeds[feed.feed] = feed
    return feeds
