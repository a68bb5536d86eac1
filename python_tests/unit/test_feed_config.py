"""Feed YAML validation: every mistake is one line naming the file and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ingest.config import load_feed, load_feeds
from warehouse.errors import WarehouseError

GOOD = """
feed: demo
entities:
  people:
    business_key: [person_id]
    columns:
      - {source: id, name: person_id, required: true, pii: identifier}
      - {source: dob, name: birth_date, type: date, pii: birth_date}
      - {source: h, name: height_cm, type: decimal, min: 0, max: 300, pii: none}
"""


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_every_shipped_feed_config_is_valid():
    feeds = load_feeds()
    assert {"clinic_emr", "member_roster", "patient_visits", "vitals", "synthea", "fda_ndc"} <= set(feeds)


def test_a_good_config_loads(tmp_path):
    feed = load_feed(write(tmp_path, GOOD))
    assert feed.entities["people"].column("height_cm").max == 300
    assert feed.pattern().match("acme_2026-11-20_2.csv").group("seq") == "2"
    assert not feed.pattern().match("acme_20261120.csv")


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (("pii: identifier", "pii: secret"), ["entities.people.columns.0.pii", "Input should be"]),
        (("type: decimal", "type: money"), ["columns.2.type"]),
        (("business_key: [person_id]", "business_key: [nobody]"), ["business_key 'nobody' is not a column"]),
        (("min: 0, max: 300", "min: 300, max: 0"), ["min is greater than max"]),
        (("name: birth_date, type: date", "name: birth_date, type: string"), ["pii birth_date needs type date"]),
        (("name: person_id", "name: Person-ID"), ["must be snake_case"]),
        (("columns:", "colums:"), ["colums", "unknown field"]),
        (("feed: demo", "feed: other"), ["must match the file name"]),
    ],
)
def test_mistakes_are_one_line_naming_the_field(tmp_path, change, fragments):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(WarehouseError) as caught:
        load_feed(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message, message


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "feed: demo\nentities: [unclosed\n")
    with pytest.raises(WarehouseError, match=r"not valid YAML at line \d"):
        load_feed(path)


def test_bad_pattern_and_encoding_are_caught(tmp_path):
    with pytest.raises(WarehouseError, match="file_pattern is not a valid regular expression"):
        load_feed(write(tmp_path, GOOD + "file_pattern: '([a-z'\n"))
    with pytest.raises(WarehouseError, match="client_id"):
        load_feed(write(tmp_path, GOOD + "file_pattern: '^x\\.csv$'\n"))
    with pytest.raises(WarehouseError, match="unknown encoding 'klingon'"):
        load_feed(write(tmp_path, GOOD + "format: {encoding: klingon}\n"))


def test_names_postgres_would_truncate_are_refused(tmp_path):
    long_feed = "f" * 30
    text = GOOD.replace("feed: demo", f"feed: {long_feed}").replace("  people:", "  " + "e" * 20 + ":")
    with pytest.raises(WarehouseError, match="too long"):
        load_feed(write(tmp_path, text, name=long_feed))


def test_client_overrides(tmp_path):
    text = (
        GOOD
        + "clients:\n  newco:\n    format: {delimiter: ';', encoding: iso-8859-1}\n    invalid_row_threshold: 0.2\n"
    )
    feed = load_feed(write(tmp_path, text))
    assert feed.format_for("newco").effective_delimiter == ";"
    assert feed.format_for("newco").encoding == "iso-8859-1"
    assert feed.format_for("acme").effective_delimiter == ","
    assert feed.threshold_for("newco") == 0.2 and feed.threshold_for("acme") == 0.05


def test_a_column_without_pii_is_refused_naming_the_file_and_the_column(tmp_path):
    # The field failure: an MRN column onboarded without `pii:` landed in raw in clear.
    path = write(tmp_path, GOOD + "      - {source: mrn, name: mrn}\n")
    with pytest.raises(WarehouseError) as caught:
        load_feed(path)
    assert str(caught.value) == (
        f"feed config {path}: entities.people.columns[3] (mrn): pii is required: "
        "declare identifier, direct, birth_date, zip, free_text or none"
    )


def test_a_misspelt_pii_key_names_the_typo_first(tmp_path):
    path = write(tmp_path, GOOD.replace("pii: birth_date", "pi: birth_date"))
    with pytest.raises(WarehouseError) as caught:
        load_feed(path)
    message = str(caught.value)
    assert "\n" not in message and "columns.1.pi: unknown field" in message and "(and 1 more)" in message
