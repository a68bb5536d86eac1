"""Turn a validated batch into what may be persisted: raw rows, calculated rows and quarantine rows.

This is where privacy is won or lost. Per PII class (see ingest/config.py):
identifier -> keyed token, direct -> dropped, birth_date -> age and year (calculated columns, stored
apart by promotion),
zip -> three digits, free_text -> redacted, none -> kept but scanned; a hit quarantines the row with
the value redacted. Quarantine rows are pseudonymised exactly like raw rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.config import ColumnType, Entity, PiiClass
from ingest.pii import birth, detect
from ingest.pii.keys import PseudonymKey
from ingest.pii.known_names import KnownNames
from ingest.pii.tokens import tokenise_later
from ingest.pii.zip3 import zip3
from ingest.validate import Validated, event_dates


@dataclass(frozen=True)
class FileContext:
    feed: str
    entity: str
    client_id: str
    file_name: str
    file_sha256: str
    file_date: date | None
    file_seq: int
    run_id: str
    # Identifies this file's rows in the stage tables, which several files of one run share: random
    # per invocation (rows of an earlier, interrupted run never match), plus the file's position.
    stage_file: int
    ingested_at: datetime
    key: PseudonymKey
    names: KnownNames


@dataclass
class Outputs:
    raw: pa.Table | None = None  # with the CALCULATED_COLUMNS, when the entity has a birth date
    quarantine: pa.Table | None = None
    reason_counts: dict[str, int] = field(default_factory=dict)

    @property
    def loaded(self) -> int:
        return self.raw.num_rows if self.raw is not None else 0

    @property
    def quarantined(self) -> int:
        return self.quarantine.num_rows if self.quarantine is not None else 0


def name_columns(entity: Entity) -> list[str]:
    """Direct-PII columns holding a person's name: their values must not leak into other columns."""
    return [c.name for c in entity.columns if c.pii is PiiClass.direct and "name" in c.name]


def raw_columns(entity: Entity) -> list[str]:
    return [c.name for c in entity.columns if c.pii not in (PiiClass.direct, PiiClass.birth_date)]


def has_calculated(entity: Entity) -> bool:
    return any(c.pii is PiiClass.birth_date for c in entity.columns)


# Computed from a birth date before it is discarded. They are staged as extra columns of the raw
# stage table and promotion splits them off into `<table>_calculated` (keyed like the raw table, with
# its `_record_id`): a stage table and a COPY stream of their own cost ~1.5 CPU-seconds per 1M rows.
CALCULATED_COLUMNS = ("age_years_at_event", "age_years_at_ingestion", "birth_year")


def _constant(value: object, type_: pa.DataType, n: int) -> pa.Array:
    # Filled in C++: building n Python objects first costs more than all of validation.
    return pa.nulls(n, type_).fill_null(pa.scalar(value, type_)) if value is not None else pa.nulls(n, type_)


# Lineage that is the same for every row of a file. It is not staged row by row: promotion writes it
# (a first load adds these columns to the renamed stage table as metadata only, PostgreSQL's stored
# default for existing rows), which took about half of every staged row's bytes out of the Parquet
# files, the binary COPY and the stage table's WAL.
FILE_LINEAGE: dict[str, pa.DataType] = {
    "_source_file": pa.string(),
    "_file_sha256": pa.string(),
    "_client_id": pa.string(),
    "_file_date": pa.date32(),
    "_file_seq": pa.int32(),
    "_run_id": pa.string(),
    "_ingested_at": pa.timestamp("us", tz="UTC"),
    "_pseudonym_key_id": pa.string(),
}
# The order lineage columns had when every one was staged (the Parquet copy keeps it).
LINEAGE_ORDER = (
    "_record_id", "_source_file", "_source_line", "_file_sha256", "_client_id", "_file_date", "_file_seq",
    "_run_id", "_ingested_at", "_pseudonym_key_id",
)  # fmt: skip
# Stage-only: which file of this invocation a staged row belongs to (see FileContext.stage_file).
STAGE_FILE = "_stage_file"


def file_lineage(ctx: FileContext) -> dict[str, object]:
    """The per-file lineage values, as promotion writes them."""
    return {
        "_source_file": ctx.file_name,
        "_file_sha256": ctx.file_sha256,
        "_client_id": ctx.client_id,
        "_file_date": ctx.file_date,
        "_file_seq": ctx.file_seq,
        "_run_id": ctx.run_id,
        "_ingested_at": ctx.ingested_at,
        "_pseudonym_key_id": ctx.key.key_id,
    }


def lineage(ctx: FileContext, lines: np.ndarray) -> dict[str, pa.Array]:
    """Per-row lineage as staged: record id and line, and the stage-only file number."""
    n = len(lines)
    line_text = pa.array(lines).cast(pa.string())
    return {
        "_record_id": pc.binary_join_element_wise(ctx.file_sha256[:16], line_text, "-"),
        "_source_line": pa.array(lines, pa.int64()),
        STAGE_FILE: _constant(ctx.stage_file, pa.int64(), n),
    }


def with_file_lineage(table: pa.Table, ctx: FileContext) -> pa.Table:
    """A staged table as it is stored: per-file lineage filled in, the stage-only column dropped."""
    n = table.num_rows
    values = file_lineage(ctx)
    data = {name: table.column(name) for name in table.column_names if name not in LINEAGE_ORDER and name != STAGE_FILE}
    for name in LINEAGE_ORDER:
        data[name] = (
            table.column(name) if name in table.column_names else _constant(values[name], FILE_LINEAGE[name], n)
        )
    return pa.table(data)


def _scan_free_columns(
    entity: Entity, validated: Validated, names: detect.RowNameKeys | None, known: KnownNames
) -> dict[str, pa.Array]:
    """Detector hits per `none` string column: the name of the detector, or null."""
    hits: dict[str, pa.Array] = {}
    for column in entity.columns:
        if column.pii is not PiiClass.none or column.type is not ColumnType.string:
            continue
        text = validated.text[column.name]
        found = detect.scan(text, include_dates=True)
        if names:
            own_name = detect.scan_row_names(text, names)
            name_hit = pc.if_else(own_name, pa.scalar("own_name", pa.string()), pa.scalar(None, pa.string()))
            found = pc.coalesce(found, name_hit)
        found = pc.coalesce(found, _known_names_in_json(text, known))
        full_name = detect.known_full_names(text, known)
        found = pc.coalesce(
            found, pc.if_else(full_name, pa.scalar("known_name", pa.string()), pa.scalar(None, pa.string()))
        )
        if pc.any(pc.is_valid(found)).as_py():
            hits[column.name] = found
    return hits


def _known_names_in_json(text: pa.Array, known: KnownNames) -> pa.Array:
    """ "known_name" where a nested JSON value (an NDJSON object or array, kept as its JSON text)
    holds a name the loader has dropped anywhere: a structure is a record, not a code, and its
    string leaves are free text. Plain codes are not held to known names (a city is a surname too)."""
    # Values are trimmed (validate.clean_text): a structure starts with its bracket.
    nested = pc.fill_null(pc.or_(pc.starts_with(text, "{"), pc.starts_with(text, "[")), False)
    none = pa.nulls(len(text), pa.string())
    if not known.tokens or not pc.any(nested).as_py():
        return none
    candidates = text.filter(nested)
    named = pc.not_equal(known.redact(candidates), candidates)
    found = pc.if_else(pc.fill_null(named, False), pa.scalar("known_name", pa.string()), pa.scalar(None, pa.string()))
    return pc.replace_with_mask(none, nested, found)


def _protect(
    entity: Entity,
    validated: Validated,
    ctx: FileContext,
    hits: dict[str, pa.Array],
    names: detect.RowNameKeys | None,
    tokens: dict[str, Callable[[], pa.Array]],
) -> dict:
    """Column values as they may be stored, typed (raw) or text (quarantine)."""
    typed: dict[str, pa.Array] = {}
    for column in entity.columns:
        text = validated.text[column.name]
        if column.pii is PiiClass.identifier:
            typed[column.name] = tokens[column.name]()  # started by pseudonymise
        elif column.pii is PiiClass.zip:
            typed[column.name] = zip3(text)
        elif column.pii is PiiClass.free_text:
            # Span by span: the row's own name in any written form, names learnt from any feed, and
            # every detector hit are replaced; the clinical rest of the note is kept.
            typed[column.name] = detect.redact_free_text(text, names, ctx.names)
        elif column.pii is PiiClass.none:
            value = validated.typed[column.name]
            if column.name in hits:
                value = pc.if_else(pc.is_valid(hits[column.name]), pa.scalar(None, value.type), value)
            typed[column.name] = value
    return typed


# Checks that fail on the value itself: the value is not what the column holds (an SSN in a decimal
# column, a name in a unit column), so it is of unknown kind and never stored, not even redacted.
VALUE_CHECKS = (
    "not_a_number",
    "too_many_digits",  # a long number in a decimal column may be an SSN or a phone number
    "bad_date_format",
    "bad_timestamp_format",
    "not_a_boolean",
    "not_allowed",
    "out_of_range",
)


def _failed_values(validated: Validated, column: str, n: int) -> np.ndarray:
    failed = np.zeros(n, dtype=bool)
    for reason, mask in validated.failures:
        code, _, rest = reason.partition(":")
        if code in VALUE_CHECKS and rest == column:
            failed |= mask
    return failed


def value_shape(text: pa.Array) -> pa.Array:
    """ "[REDACTED:invalid value, 11 chars, digits+punct]": what an operator needs to see what went
    wrong (a number where a code was due, a long text), nothing of the value itself. Null stays null."""
    length = pc.utf8_length(text).cast(pa.string())
    # Empty strings, not nulls, for absent kinds: the join's null_handling="skip" drops rows whose
    # arguments are all null (pyarrow 2x), which misaligns the result.
    kinds = [
        pc.fill_null(pc.if_else(pc.match_substring_regex(text, pattern), pa.scalar(label), pa.scalar("")), "")
        for label, pattern in (("letters+", r"\pL"), ("digits+", r"\d"), ("space+", r"\s"), ("punct+", r"[^\pL\d\s]"))
    ]
    joined = pc.utf8_rtrim(pc.binary_join_element_wise(*kinds, pa.scalar("")), characters="+")
    parts = (pa.scalar("[REDACTED:invalid value, "), length, pa.scalar(" chars, "), joined, pa.scalar("]"))
    return pc.binary_join_element_wise(*parts, pa.scalar(""))


def _quarantine_text(entity: Entity, protected: dict, validated: Validated, hits: dict, n: int) -> dict[str, pa.Array]:
    """Quarantine rows pseudonymised column by column like raw rows: identifiers tokenised, free
    text redacted, detector hits replaced by their marker, and a value that failed its own type or
    allowed-values check replaced by its shape (see `value_shape`)."""
    out = {}
    for column in entity.columns:
        if column.name not in protected:
            continue  # direct and birth_date: never stored, not even in quarantine
        if column.pii is PiiClass.none:
            text = validated.text[column.name]
            value = text
            if column.name in hits:
                marker = pc.binary_join_element_wise("[REDACTED:", hits[column.name], "]", "")
                value = pc.if_else(pc.is_valid(hits[column.name]), marker, value)
            failed = _failed_values(validated, column.name, n)
            if failed.any():
                value = pc.if_else(pa.array(failed), value_shape(text), value)
        else:
            value = protected[column.name]
        out[column.name] = value.cast(pa.string())
    return out


def start_tokens(entity: Entity, validated: Validated, ctx: FileContext) -> dict[str, Callable[[], pa.Array]]:
    """The batch's identifier columns handed to the hasher: a big batch is hashed in a worker process
    while this thread goes on; calling a column's entry waits for its tokens."""
    return {
        c.name: tokenise_later(validated.text[c.name], ctx.key) for c in entity.columns if c.pii is PiiClass.identifier
    }


def pseudonymise(
    entity: Entity,
    validated: Validated,
    lines: np.ndarray,
    ctx: FileContext,
    tokens: dict[str, Callable[[], pa.Array]] | None = None,
) -> Outputs:
    n = len(lines)
    if tokens is None:
        tokens = start_tokens(entity, validated, ctx)
    name_values = [validated.text[name] for name in name_columns(entity)]
    for values in name_values:
        ctx.names.learn(values)
    # Each row's own name, in the form the scans compare with: built once for every scanned column.
    names = detect.row_name_keys(name_values) if name_values else None
    hits = _scan_free_columns(entity, validated, names, ctx.names)
    for name, found in hits.items():
        detectors = pc.unique(pc.drop_null(found)).to_pylist()
        for detector in detectors:
            validated.failures.append((f"pii_detected:{name}:{detector}", _is(found, detector)))
    invalid = validated.invalid_mask(n)
    protected = _protect(entity, validated, ctx, hits, names, tokens)
    trail = lineage(ctx, lines)
    outputs = Outputs()

    good = np.flatnonzero(~invalid)
    bad = np.flatnonzero(invalid)
    keep_cols = raw_columns(entity)
    if len(good):
        take = pa.array(good)
        data = {name: protected[name].take(take) for name in keep_cols}
        if has_calculated(entity):
            for name, values in _calculated(entity, validated, n, ctx).items():
                data[name] = values.take(take)
        for name, values in trail.items():
            data[name] = values.take(take)
        outputs.raw = pa.table(data)
    if len(bad):
        take = pa.array(bad)
        reasons = validated.reasons(bad)
        text = _quarantine_text(entity, protected, validated, hits, n)
        data = {name: values.take(take) for name, values in text.items()}
        data["_reasons"] = pa.array(reasons, pa.string())
        for name, values in trail.items():
            data[name] = values.take(take)
        outputs.quarantine = pa.table(data)
        for row_reasons in reasons:
            for reason in row_reasons.split(","):
                outputs.reason_counts[reason] = outputs.reason_counts.get(reason, 0) + 1
    return outputs


def _calculated(entity: Entity, validated: Validated, n: int, ctx: FileContext) -> dict[str, pa.Array]:
    """Values computed from PII before it is discarded (see CALCULATED_COLUMNS)."""
    column = next(c for c in entity.columns if c.pii is PiiClass.birth_date)
    born = validated.typed[column.name]
    at_event = event_dates(entity, validated, n, ctx.ingested_at.date())
    age_at_ingestion = birth.age_years(born, ctx.ingested_at.date())
    return {
        "age_years_at_event": birth.age_years(born, at_event),
        "age_years_at_ingestion": age_at_ingestion,
        "birth_year": birth.birth_year(born, age_at_ingestion),
    }


def split_calculated(raw: pa.Table, entity: Entity) -> tuple[pa.Table, pa.Table | None]:
    """A staged raw batch as its two stored tables: the raw rows without the calculated columns, and
    the `<table>_calculated` rows (business key, calculated values, lineage), as promotion splits it."""
    present = [c for c in CALCULATED_COLUMNS if c in raw.column_names]
    if not present:
        return raw, None
    trail = [c for c in raw.column_names if c.startswith("_")]
    return raw.drop_columns(present), raw.select([*entity.business_key, *present, *trail])


def _is(values: pa.Array, detector: str) -> np.ndarray:
    return np.asarray(pc.equal(values, detector).fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def empty_quarantine(entity: Entity, ctx: FileContext, lines: np.ndarray, reasons: list[str]) -> pa.Table:
    """Quarantine rows for records that could not even be split into columns: position and reason only."""
    n = len(lines)
    data = {name: pa.nulls(n, pa.string()) for name in raw_columns(entity)}
    data["_reasons"] = pa.array(reasons, pa.string())
    data.update(lineage(ctx, lines))
    return pa.table(data)


__all__ = ["FileContext", "Outputs", "empty_quarantine", "pseudonymise", "split_calculated", "start_tokens"]
