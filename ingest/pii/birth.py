"""Birth dates reduced to what HIPAA Safe Harbor allows: an age, and a year only below 90.

Ages of 90 and over are collapsed into one "90" band because very old people are few enough to be
re-identifiable, and a birth year would give the exact age back, so it is withheld for that band.
"""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from ingest.pii._arrow import ArrayLike

AGE_CAP = 90


def _as_date32(values: ArrayLike | date) -> pa.Array | pa.ChunkedArray | pa.Scalar:
    if isinstance(values, datetime):  # a datetime is a date too, but Arrow will not narrow it
        values = values.date()
    if isinstance(values, date):
        return pa.scalar(values, pa.date32())
    # Timestamps and date64 are accepted but only their calendar date matters.
    return values if values.type == pa.date32() else pc.cast(values, pa.date32())


def _month_day(values: pa.Array | pa.ChunkedArray | pa.Scalar) -> pa.Array | pa.ChunkedArray | pa.Scalar:
    # One sortable number per calendar day so "has the birthday happened yet" is one comparison.
    return pc.add(pc.multiply(pc.month(values), 100), pc.day(values))


def age_years(birth: ArrayLike, at: ArrayLike | date) -> pa.Array:
    """Completed years at `at` (a date or a same-length date array), capped at 90; null if born after `at`.

    Someone born on 29 February turns a year older on 1 March in non-leap years (the birthday "has
    not been reached" on 28 February), which is the UK legal convention and what a plain
    month/day comparison gives.
    """
    birth_d = _as_date32(birth)
    at_d = _as_date32(at)
    years = pc.subtract(pc.year(at_d), pc.year(birth_d))
    before_birthday = pc.less(_month_day(at_d), _month_day(birth_d))
    age = pc.subtract(years, pc.cast(before_birthday, years.type))
    # A birth date after `at` is a data error for the caller to quarantine, not an age of -1.
    age = pc.if_else(pc.greater(birth_d, at_d), pa.scalar(None, age.type), age)
    # skip_nulls=False: the default would turn every null age into the cap.
    age = pc.min_element_wise(age, AGE_CAP, skip_nulls=False)
    return _contiguous(pc.cast(age, pa.int16()))


def birth_year(birth: ArrayLike, age: ArrayLike) -> pa.Array:
    """Year of birth, null where `age` (from `age_years`) is in the 90+ band or is null."""
    year = pc.cast(pc.year(_as_date32(birth)), pa.int16())
    return _contiguous(pc.if_else(pc.less(age, AGE_CAP), year, pa.scalar(None, pa.int16())))


def _contiguous(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
