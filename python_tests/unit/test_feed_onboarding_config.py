"""Onboarding keys of a feed file (client header names, positions, date format lists, decimals,
file dates from any name), the reader's header mapping, exact decimals, and the generated reference."""

from __future__ import annotations

import io
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from ingest import feed_reference
from ingest.config import load_feed
from ingest.landing import _file_date
from ingest.reader import FileProblem, FileReader
from ingest.validate import parse_column, parse_decimal
from warehouse.errors import WarehouseError

BASE = """
feed: demo
{top}
entities:
  people:
    business_key: [person_id]
    columns:
      - {{source: id, name: person_id, required: true, pii: identifier}}
{columns}
"""


def load(tmp_path: Path, columns: str = "", top: str = ""):
    path = tmp_path / "demo.yml"
    text = BASE.format(top=textwrap.dedent(top), columns=textwrap.indent(textwrap.dedent(columns), "      "))
    path.write_text(text)
    return load_feed(path)


def refused(tmp_path: Path, columns: str = "", top: str = "") -> str:
    with pytest.raises(WarehouseError) as caught:
        load(tmp_path, columns, top)
    message = str(caught.value)
    assert message.startswith(f"feed config {tmp_path / 'demo.yml'}: ") and "\n" not in message
    return message


def test_source_defaults_to_name_and_sources_are_alternatives(tmp_path):
    feed = load(tmp_path, "- {name: city, sources: [town, Ort], pii: none}")
    column = feed.entities["people"].column("city")
    assert column.source == "city" and column.accepted_sources == ("city", "town", "Ort")


def test_format_may_be_a_list(tmp_path):
    feed = load(tmp_path, '- {source: d, name: seen, type: date, format: ["%d.%m.%Y", "%Y-%m-%d"], pii: none}')
    assert feed.entities["people"].column("seen").formats == ("%d.%m.%Y", "%Y-%m-%d")
    assert "format is an empty list" in refused(
        tmp_path, "- {source: d, name: seen, type: date, format: [], pii: none}"
    )
    assert "strptime" in refused(tmp_path, "- {source: d, name: seen, type: date, format: [YYYY], pii: none}")


def test_decimal_precision_and_scale(tmp_path):
    feed = load(tmp_path, "- {source: a, name: amount, type: decimal, precision: 12, scale: 2, pii: none}")
    column = feed.entities["people"].column("amount")
    assert (column.decimal_precision, column.decimal_scale) == (12, 2)
    feed = load(tmp_path, "- {source: a, name: amount, type: decimal, pii: none}")
    assert (
        feed.entities["people"].column("amount").decimal_precision,
        feed.entities["people"].column("amount").decimal_scale,
    ) == (18, 6)
    assert "precision/scale apply to decimal" in refused(tmp_path, "- {source: a, name: a, scale: 2, pii: none}")
    assert "scale must be smaller" in refused(
        tmp_path, "- {source: a, name: a, type: decimal, precision: 4, scale: 4, pii: none}"
    )
    assert "precision" in refused(tmp_path, "- {source: a, name: a, type: decimal, precision: 39, pii: none}")


def test_duplicate_sources_need_positions(tmp_path):
    two = "- {{source: 'Celle 5:', name: top, pii: none{a}}}\n- {{source: 'Celle 5:', name: bottom, pii: none{b}}}"
    assert "position:" in refused(tmp_path, two.format(a="", b=""))
    feed = load(tmp_path, two.format(a=", position: 2", b=", position: 3"))
    assert [c.position for c in feed.entities["people"].columns] == [None, 2, 3]
    assert "duplicate column positions: 2" in refused(tmp_path, two.format(a=", position: 2", b=", position: 2"))
    assert "position" in refused(tmp_path, "- {source: a, name: a, position: 0, pii: none}")


def test_client_columns(tmp_path):
    top = "clients: {acme: {columns: {people: {person_id: MemberNo, city: 4}}}}"
    feed = load(tmp_path, "- {source: city, name: city, pii: none}", top)
    acme = feed.entity_for("people", "acme")
    assert acme.column("person_id").accepted_sources == ("MemberNo",)
    assert acme.column("city").position == 4
    assert feed.entity_for("people", "other") is feed.entities["people"]
    assert feed.entities["people"].column("person_id").source == "id"
    message = refused(tmp_path, "", "clients: {acme: {columns: {people: {nope: X}}}}")
    assert "clients.acme.columns.people: 'nope' is not a column" in message
    assert "unknown entity 'visits'" in refused(tmp_path, "", "clients: {acme: {columns: {visits: {a: X}}}}")
    assert "positions start at 1" in refused(tmp_path, "", "clients: {acme: {columns: {people: {person_id: 0}}}}")


def test_header_false_only_for_delimited_text(tmp_path):
    assert "csv and tsv" in refused(tmp_path, "", "format: {type: ndjson, header: false}")
    assert "clients.acme.format.header" in refused(
        tmp_path, "", "clients: {acme: {format: {type: ndjson, header: false}}}"
    )
    assert not load(tmp_path, "", "format: {header: false}").format.header


def test_file_date_format(tmp_path):
    feed = load(
        tmp_path,
        "",
        'file_pattern: "^(?P<client_id>[a-z]+)-(?P<file_date>\\\\d{8})\\\\.csv$"\nfile_date_format: "%Y%m%d"',
    )
    assert feed.file_date_format == "%Y%m%d"
    assert _file_date("20261120", feed.file_date_format) == date(2026, 11, 20)
    assert _file_date("2026-11-20", None) == date(2026, 11, 20)
    with pytest.raises(ValueError):
        _file_date("20261340", "%Y%m%d")
    assert "file_date_format" in refused(tmp_path, "", "file_date_format: YYYYMMDD")


def read(feed, text: str, client: str | None = None) -> dict[str, list]:
    reader = FileReader(io.BytesIO(text.encode()), feed.format_for(client), feed.entity_for("people", client))
    out: dict[str, list] = {}
    for batch in reader.batches():
        for name, values in batch.columns.items():
            out.setdefault(name, []).extend(values.to_pylist())
        out.setdefault("_lines", []).extend(batch.lines.tolist())
    return out


def test_reader_maps_alternative_names_positions_and_client_names(tmp_path):
    feed = load(
        tmp_path,
        "- {source: 'Celle 5:', name: top, position: 3, pii: none}\n"
        "- {source: 'Celle 5:', name: bottom, position: 4, pii: none}\n"
        "- {source: city, sources: [town], name: city, pii: none}",
        "clients: {beta: {columns: {people: {person_id: PersonNo}}}}",
    )
    got = read(feed, "town,id,Celle 5:,Celle 5:\nOslo,P1,1,2\n")
    assert (got["person_id"], got["top"], got["bottom"], got["city"], got["_lines"]) == (
        ["P1"],
        ["1"],
        ["2"],
        ["Oslo"],
        [2],
    )
    got = read(
        feed,
        "PersonNo,Celle 5:,Celle 5:,town\nP1,1,2,Oslo\n".replace("PersonNo,", "town,PersonNo,", 1)
        .replace(",town\n", "\n")
        .replace("P1,1,2,Oslo", "Oslo,P1,1,2"),
        client="beta",
    )
    assert got["person_id"] == ["P1"]
    with pytest.raises(FileProblem) as caught:
        read(feed, "id,town,Celle 5:,x\nP1,Oslo,1,2\n")
    assert caught.value.code == "header_mismatch" and "position 4" in str(caught.value)


def test_reader_without_header_by_position_or_order(tmp_path):
    feed = load(
        tmp_path,
        "- {name: city, pii: none}\n"
        "- {name: zip_code, position: 4, pii: none}\n"
        "- {name: spare, position: 3, pii: none}",
        "format: {header: false}",
    )
    got = read(feed, "P1,Oslo,,0150\nP2,Bergen,x,5003\n")
    assert (got["person_id"], got["city"], got["zip_code"], got["spare"]) == (
        ["P1", "P2"],
        ["Oslo", "Bergen"],
        ["0150", "5003"],
        ["", "x"],
    )
    assert got["_lines"] == [1, 2]  # no header: the first record is line 1
    with pytest.raises(FileProblem) as caught:
        read(feed, "P1,Oslo,x,0150,extra\n")
    assert caught.value.code == "schema_drift" and "positions 5" in str(caught.value)


def test_decimals_are_exact_and_never_rounded():
    values = pa.array(["0.1", "0.2", "1.005", "12345678901", "1e1", "-.5", "7.500", None, "x"])
    parsed = parse_decimal(values, 12, 2)
    assert parsed.type == pa.decimal128(12, 2)
    assert parsed.to_pylist() == [
        Decimal("0.10"),
        Decimal("0.20"),
        None,
        None,
        Decimal("10.00"),
        Decimal("-0.50"),
        Decimal("7.50"),
        None,
        None,
    ]
    assert sum(parsed.to_pylist()[:2]) == Decimal("0.30")


def test_date_formats_first_match_wins(tmp_path):
    feed = load(
        tmp_path, '- {source: d, name: seen, type: date, format: ["%d/%m/%Y", "%m/%d/%Y", "%Y%m%d"], pii: none}'
    )
    column = feed.entities["people"].column("seen")
    parsed = parse_column(column, pa.array(["03/04/2026", "12/31/2026", "20261120", "2026-11-20"]))
    assert parsed.to_pylist() == [date(2026, 4, 3), date(2026, 12, 31), date(2026, 11, 20), None]


def test_feed_reference_is_up_to_date():
    """docs/feed-reference.md is generated: regenerate with `python -m ingest.feed_reference`."""
    assert feed_reference.REFERENCE.read_text(encoding="utf-8") == feed_reference.render()


def test_file_date_from(tmp_path):
    date_column = "- {source: t, name: read_at, type: timestamp, pii: none}\n- {source: c, name: city, pii: none}"
    entity = "people:\n    business_key: [person_id]\n"
    feed = load(tmp_path, date_column)
    assert feed.entities["people"].file_date_from is None
    path = tmp_path / "demo.yml"
    text = path.read_text().replace(entity, entity + "    file_date_from: {column: read_at}\n")
    path.write_text(text)
    assert load_feed(path).entities["people"].file_date_from.take == "max"
    for wrong, message in (
        ("{column: nope}", "file_date_from column 'nope' is not a column"),
        ("{column: city}", "needs type date or timestamp"),
        ("{column: read_at, take: last}", "file_date_from.take"),
    ):
        path.write_text(text.replace("{column: read_at}", wrong))
        with pytest.raises(WarehouseError, match=message):
            load_feed(path)
