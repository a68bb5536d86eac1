"""Ages and birth years reduced to what HIPAA Safe Harbor allows."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest

from ingest.pii.birth import age_years, birth_year


def _dates(*values: date | None) -> pa.Array:
    return pa.array(values, pa.date32())


@pytest.mark.parametrize(
    ("born", "at", "age"),
    [
        (date(1980, 6, 15), date(2020, 6, 14), 39),  # day before the birthday
        (date(1980, 6, 15), date(2020, 6, 15), 40),  # on the birthday
        (date(1980, 6, 15), date(2020, 5, 31), 39),  # earlier month
        (date(1980, 6, 15), date(2020, 12, 31), 40),
        (date(2000, 2, 29), date(2001, 2, 28), 0),  # leap-day birthday not reached on 28 Feb
        (date(2000, 2, 29), date(2001, 3, 1), 1),
        (date(2000, 2, 29), date(2004, 2, 28), 3),
        (date(2000, 2, 29), date(2004, 2, 29), 4),
        (date(1999, 3, 1), date(2000, 2, 29), 0),
        (date(2020, 1, 1), date(2020, 1, 1), 0),  # born today
        (date(1930, 7, 2), date(2020, 7, 1), 89),
        (date(1930, 7, 2), date(2020, 7, 2), 90),  # turns 90: capped band starts
        (date(1900, 1, 1), date(2020, 7, 2), 90),  # 120 becomes 90
    ],
)
def test_age_in_completed_years(born: date, at: date, age: int) -> None:
    assert age_years(_dates(born), at).to_pylist() == [age]
    assert age_years(_dates(born), _dates(at)).to_pylist() == [age]  # array form agrees


def test_future_birth_and_nulls_give_null_and_type_is_int16() -> None:
    ages = age_years(_dates(date(2021, 1, 1), None, date(2000, 1, 1)), date(2020, 12, 31))
    assert ages.type == pa.int16()
    assert ages.to_pylist() == [None, None, 20]
    per_row = age_years(_dates(date(2000, 1, 1), date(2000, 1, 1)), _dates(None, date(1999, 12, 31)))
    assert per_row.to_pylist() == [None, None]


def test_birth_year_withheld_in_the_90_band_and_for_bad_dates() -> None:
    born = _dates(date(1930, 7, 2), date(1930, 7, 3), date(1985, 1, 1), date(2030, 1, 1), None)
    ages = age_years(born, date(2020, 7, 2))
    assert ages.to_pylist() == [90, 89, 35, None, None]
    years = birth_year(born, ages)
    assert years.type == pa.int16()
    assert years.to_pylist() == [None, 1930, 1985, None, None]


def test_chunked_and_timestamp_inputs() -> None:
    born = pa.chunked_array([_dates(date(2000, 5, 1)), _dates(date(1990, 5, 2))])
    assert age_years(born, date(2020, 5, 1)).to_pylist() == [20, 29]
    stamps = pa.array([1_000_000_000_000_000], pa.timestamp("us"))  # 2001-09-09T01:46:40
    assert age_years(stamps, date(2021, 9, 9)).to_pylist() == [20]
    # A datetime "at" counts by its calendar date, whatever the time of day.
    assert age_years(_dates(date(2000, 5, 2)), datetime(2020, 5, 1, 23, 59)).to_pylist() == [19]
