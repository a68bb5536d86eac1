"""Validate a batch of text columns against the feed contract, vectorised with pyarrow.compute.

Each check yields a mask of failing rows and a reason code `<check>:<column>`; a row with any
reason goes to quarantine. Values are never part of a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.config import Column, ColumnType, Entity, PiiClass

INTEGER = r"^[+-]?\d{1,18}$"
DECIMAL = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
TRUE_VALUES = ["true", "t", "yes", "y", "1"]
FALSE_VALUES = ["false", "f", "no", "n", "0"]
DEFAULT_TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


@dataclass
class Validated:
    text: dict[str, pa.Array]  # trimmed text, empty strings as null
    typed: dict[str, pa.Array]  # parsed values, null where invalid
    failures: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (reason, bool mask)

    def invalid_mask(self, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        for _, failed in self.failures:
            mask |= failed
        return mask

    def reasons(self, rows: np.ndarray) -> list[str]:
        """Reason codes for the given row indices, comma-joined per row."""
        out = []
        for row in rows:
            out.append(",".join(reason for reason, failed in self.failures if failed[row]))
        return out


def _mask(values: pa.Array) -> np.ndarray:
    return np.asarray(values.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def clean_text(values: pa.Array) -> pa.Array:
    """Trim surrounding whitespace; an empty value is a missing value."""
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def parse_column(column: Column, text: pa.Array) -> pa.Array:
    """Parse text into the column's type; values that do not parse become null."""
    kind = column.type
    if kind is ColumnType.string:
        return text
    if kind is ColumnType.integer:
        ok = pc.match_substring_regex(text, INTEGER)
        return pc.if_else(ok, text, pa.scalar(None, pa.string())).cast(pa.int64())
    if kind is ColumnType.decimal:
        return parse_decimal(text, column.decimal_precision, column.decimal_scale)
    if kind is ColumnType.boolean:
        lowered = pc.utf8_lower(text)
        is_true = pc.is_in(lowered, pa.array(TRUE_VALUES))
        is_false = pc.is_in(lowered, pa.array(FALSE_VALUES))
        return pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
    # Several formats: each value takes the first that parses (a list's order settles 03/04/2026).
    formats = column.formats or (("%Y-%m-%d",) if kind is ColumnType.date else DEFAULT_TIMESTAMP_FORMATS)
    # Synthea writes 2019-02-17T05:07:38Z; the zone is always UTC there, and we store UTC.
    candidate = pc.replace_substring_regex(text, r"(Z|[+-]00:?00)$", "") if not column.format else text
    if kind is ColumnType.timestamp and not column.format:
        candidate = pc.replace_substring_regex(candidate, r"\.\d+$", "")
    parsed = pa.nulls(len(text), pa.timestamp("s"))
    for fmt in formats:
        attempt = pc.strptime(candidate, format=fmt, unit="s", error_is_null=True)
        parsed = pc.coalesce(parsed, attempt)
    if kind is ColumnType.date:
        return parsed.cast(pa.date32())
    return parsed.cast(pa.timestamp("us"))


def parse_decimal(text: pa.Array, precision: int, scale: int) -> pa.Array:
    """Text -> decimal128(precision, scale), exactly: the digits as written, never through a float.

    A value that does not fit (more integer digits than precision - scale, or non-zero decimals
    past the scale) is null, like one that is no number: rounding money silently is what this avoids.
    Arrow's cast is exact but refuses a whole array for one such value: tried first (the common case,
    a clean column, costs one cast), else what fits is picked out by its shape."""
    target = pa.decimal128(precision, scale)
    try:
        return text.cast(target)
    except pa.ArrowInvalid:
        pass
    whole = precision - scale
    if scale:
        shape = rf"^[+-]?0*(\d{{1,{whole}}}(\.\d{{0,{scale}}}0*)?|\.\d{{1,{scale}}}0*)$"
    else:
        shape = rf"^[+-]?0*(\d{{1,{whole}}}(\.0*)?|\.0+)$"
    fits = pc.fill_null(pc.match_substring_regex(text, shape), False)
    try:
        parsed = pc.if_else(fits, text, pa.scalar(None, pa.string())).cast(target)
    except pa.ArrowInvalid:
        # Digits past what Arrow parses (forty trailing zeros): decided one by one below.
        parsed = pa.nulls(len(text), target)
        fits = pa.array(np.zeros(len(text), dtype=bool))
    leftover = pc.and_not(pc.is_valid(text), fits)
    candidates = pc.and_(leftover, pc.match_substring_regex(text, DECIMAL))
    if not pc.any(candidates).as_py():
        return parsed
    # Rare (1.5e3 from a spreadsheet, absurdly long digits): decided exactly with Python's decimal.
    values = parsed.to_pylist()
    for index in np.flatnonzero(_mask(candidates)):
        values[index] = _exact(text[index].as_py(), precision, scale)
    return pa.array(values, target)


def _exact(value: str, precision: int, scale: int) -> Decimal | None:
    try:
        number = Decimal(value)
        quantized = number.quantize(Decimal(1).scaleb(-scale))
    except (InvalidOperation, ValueError):
        return None
    if quantized != number or len(quantized.as_tuple().digits) > precision:
        return None
    return quantized


def validate(
    entity: Entity, columns: dict[str, pa.Array], *, bad_utf8: dict[int, list[str]], ingestion_date: date
) -> Validated:
    n = len(next(iter(columns.values()))) if columns else 0
    result = Validated(text={}, typed={})
    for column in entity.columns:
        text = clean_text(columns[column.name])
        result.text[column.name] = text
        typed = parse_column(column, text)
        result.typed[column.name] = typed
        present = _mask(pc.is_valid(text))
        if column.required or column.name in entity.business_key:
            result.failures.append((f"missing_required:{column.name}", ~present))
        unparsed = present & ~_mask(pc.is_valid(typed))
        if unparsed.any() and column.type is ColumnType.decimal:
            # A number that does not fit numeric(p, s) is told apart from text that is no number.
            number = unparsed & _mask(pc.match_substring_regex(text, DECIMAL))
            if number.any():
                result.failures.append((f"too_many_digits:{column.name}", number))
            unparsed &= ~number
        if unparsed.any():
            code = {
                ColumnType.integer: "not_a_number",
                ColumnType.decimal: "not_a_number",
                ColumnType.date: "bad_date_format",
                ColumnType.timestamp: "bad_timestamp_format",
                ColumnType.boolean: "not_a_boolean",
            }[column.type]
            result.failures.append((f"{code}:{column.name}", unparsed))
        if column.min is not None:
            result.failures.append((f"out_of_range:{column.name}", _mask(pc.less(typed, column.min))))
        if column.max is not None:
            result.failures.append((f"out_of_range:{column.name}", _mask(pc.greater(typed, column.max))))
        if column.allowed is not None:
            allowed = pc.is_in(text, pa.array(column.allowed, pa.string()))
            result.failures.append((f"not_allowed:{column.name}", present & ~_mask(allowed)))
    # After the loop: the event date may be declared after the birth date.
    for column in entity.columns:
        if column.pii is PiiClass.birth_date:
            at = event_dates(entity, result, n, ingestion_date)
            future = _mask(pc.greater(result.typed[column.name], at))
            result.failures.append((f"future_birth_date:{column.name}", future))
    if bad_utf8:
        by_column: dict[str, np.ndarray] = {}
        for row, names in bad_utf8.items():
            for name in names:
                by_column.setdefault(name, np.zeros(n, dtype=bool))[row] = True
        for name, mask in by_column.items():
            result.failures.append((f"invalid_utf8:{name}", mask))
    # Drop checks that failed nowhere: reasons() walks this list per invalid row.
    result.failures = [(reason, mask) for reason, mask in result.failures if mask.any()]
    return result


def event_dates(entity: Entity, result: Validated, n: int, ingestion_date: date) -> pa.Array:
    """The date an age is measured at: the record's event date when it has one, else ingestion."""
    fallback = pa.array(np.full(n, np.datetime64(ingestion_date, "D")), pa.date32())
    if not entity.event_date or entity.event_date not in result.typed:
        return fallback
    event = result.typed[entity.event_date]
    if pa.types.is_timestamp(event.type):
        event = event.cast(pa.date32())
    return pc.coalesce(event, fallback)
