"""ZIP codes reduced to Safe Harbor 3-digit prefixes."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ingest.pii.zip3 import RESTRICTED_PREFIXES, zip3

HHS_2000_CENSUS = [
    "036", "059", "063", "102", "203", "556", "692", "790", "821",
    "823", "830", "831", "878", "879", "884", "890", "893",
]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ("02139", "021"),
        ("02139-1234", "021"),
        ("021391234", "021"),
        (" 02139 ", "021"),
        ("2139", "021"),  # leading zero lost in a spreadsheet
        (" 2139", "021"),
        ("2139-1234", "021"),
        ("90210", "902"),
        ("03701", "037"),  # next to a restricted prefix, not in it
        ("03601", "000"),
        ("3601", "000"),
        ("89301-0001", "000"),
    ],
)
def test_prefix(value: str, prefix: str) -> None:
    assert zip3(pa.array([value])).to_pylist() == [prefix]


def test_every_restricted_prefix_is_suppressed() -> None:
    assert sorted(RESTRICTED_PREFIXES) == HHS_2000_CENSUS
    result = zip3(pa.array([f"{p}42" for p in HHS_2000_CENSUS])).to_pylist()
    assert result == ["000"] * len(HHS_2000_CENSUS)


@pytest.mark.parametrize(
    "value", ["", "   ", "abcde", "123", "123456", "02139-12", "21391234", "2139 1234", "0213a", "02139-"]
)
def test_non_zips_become_null(value: str) -> None:
    assert zip3(pa.array([value])).to_pylist() == [None]


def test_nulls_and_integer_columns() -> None:
    assert zip3(pa.array(["02139", None])).to_pylist() == ["021", None]
    assert zip3(pa.array([2139, 90210, 3601, None])).to_pylist() == ["021", "902", "000", None]
