"""Deliberately bad rows, injected into about 2 % of the rows of every CSV entity.

Each entity gets an `Injector` holding the corruptions that make sense for its columns. When a row
is picked, the corruptions are taken in turn (not at random) so that every kind shows up after only a
handful of bad rows, even in a small run; the row to corrupt is picked at random.

Some kinds make a row invalid for the loader (see LOADER_REJECTS); the others are valid rows that a
careless pipeline mishandles: formulas and SQL-looking text must be stored verbatim, duplicate
business keys resolve to the later row, and PII in a free-text column must be found and redacted.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from ingest.generate.randomness import Rng

BAD_DATE_FORMAT = "bad_date_format"
FUTURE_BIRTH_DATE = "future_birth_date"
NEGATIVE_HEIGHT = "negative_height"
TEXT_IN_NUMBER = "text_in_number"
MISSING_REQUIRED = "missing_required"
DUPLICATE_BUSINESS_KEY = "duplicate_business_key"
FORMULA_INJECTION = "formula_injection"
SQL_LOOKING = "sql_looking"
PII_IN_FREE_COLUMN = "pii_in_free_column"
NOT_ALLOWED_VALUE = "not_allowed_value"

BAD_ROW_KINDS: tuple[str, ...] = (
    BAD_DATE_FORMAT,
    FUTURE_BIRTH_DATE,
    NEGATIVE_HEIGHT,
    TEXT_IN_NUMBER,
    MISSING_REQUIRED,
    DUPLICATE_BUSINESS_KEY,
    FORMULA_INJECTION,
    SQL_LOOKING,
    PII_IN_FREE_COLUMN,
    NOT_ALLOWED_VALUE,
)

# Kinds that make the row fail the feed's YAML checks (format, required, allowed, min/max) or, for a
# birth date after the file date, the loader's age computation. The rest are valid rows.
LOADER_REJECTS: frozenset[str] = frozenset(
    {BAD_DATE_FORMAT, FUTURE_BIRTH_DATE, NEGATIVE_HEIGHT, TEXT_IN_NUMBER, MISSING_REQUIRED, NOT_ALLOWED_VALUE}
)

DEFAULT_RATE = 0.02
# No file gets more than this share of corrupted rows, so even a small file (a quiet client's delta)
# stays under the loaders' default 5 % invalid-row threshold and the demo pipeline loads everything.
MAX_SHARE_PER_FILE = 0.04

FORMULAS: tuple[str, ...] = (
    '=HYPERLINK("http://x.example","click")',
    "=1+2",
    "+SUM(A1:A9)",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C notepad'!'A1'",
)
SQL_STRINGS: tuple[str, ...] = (
    "Robert'); DROP TABLE students;--",
    "' OR '1'='1",
    "1; DELETE FROM patients; --",
    "x'); TRUNCATE TABLE raw.members; --",
)
# For columns the warehouse keeps: "Robert" is also somebody's first name, and a kept attack string
# containing it would look like a leaked name to a PII leak test.
SQL_STRINGS_WITHOUT_NAMES: tuple[str, ...] = SQL_STRINGS[1:]
# Attack strings are not anybody's personal data: the PII manifest leaves them out, otherwise a leak
# test would flag the valid formula rows it finds in free-text columns.
ATTACK_STRINGS: frozenset[str] = frozenset(FORMULAS + SQL_STRINGS)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class FileTally(Protocol):
    """Rows written to a file so far and how many of them were corrupted."""

    seen: int
    corrupted: int


class Contact(Protocol):
    """What a PII leak into a free-text column can quote: the row's own person."""

    first_name: str

    def phone_as_written(self) -> str: ...
    def email_as_written(self) -> str: ...


# A corruption mutates the row in place and returns True, returns False when it does not apply to
# this row (the injector then tries the next kind), or returns a new row to be written later in the
# same file (the duplicate of a business key).
Apply = Callable[[list[str], random.Random, date, Contact | None], bool | list[str]]


@dataclass(frozen=True, slots=True)
class Corruption:
    kind: str
    apply: Apply


def _wrong_date(value: str, rng: random.Random) -> str | None:
    if len(value) < 10 or not (value[:4].isdigit() and value[5:7].isdigit() and value[8:10].isdigit()):
        return None
    y, m, d = value[:4], int(value[5:7]), int(value[8:10])
    style = rng.randrange(5)
    if style == 0:
        text = f"{d:02d}/{m:02d}/{y}"
    elif style == 1:
        text = f"{_MONTHS[m - 1]} {d} {y}"
    elif style == 2:
        text = f"{m:02d}-{d:02d}-{y}"
    elif style == 3:
        text = f"{y}/{m:02d}/{d:02d}"
    else:
        text = f"{d:02d}.{m:02d}.{y}"
    # Keep a time of day where there was one: "20/11/2026 09:15" is still a wrong timestamp format.
    return f"{text} {value[11:16]}" if len(value) >= 16 else text


def bad_date_format(*columns: int) -> Corruption:
    def apply(row: list[str], rng: random.Random, _day: date, _who: Contact | None) -> bool:
        column = rng.choice(columns)
        wrong = _wrong_date(row[column], rng)
        if wrong is None:
            return False
        row[column] = wrong
        return True

    return Corruption(BAD_DATE_FORMAT, apply)


def future_birth_date(column: int) -> Corruption:
    def apply(row: list[str], rng: random.Random, file_date: date, _who: Contact | None) -> bool:
        row[column] = (file_date + timedelta(days=rng.randint(20, 800))).isoformat()
        return True

    return Corruption(FUTURE_BIRTH_DATE, apply)


def negative_height(value: int, code: int, height_codes: frozenset[str]) -> Corruption:
    def apply(row: list[str], _rng: random.Random, _day: date, _who: Contact | None) -> bool:
        if row[code] not in height_codes or not row[value] or row[value].startswith("-"):
            return False
        row[value] = f"-{row[value]}"
        return True

    return Corruption(NEGATIVE_HEIGHT, apply)


def text_in_number(column: int, unit_suffix: Callable[[list[str]], str] | None = None) -> Corruption:
    def apply(row: list[str], rng: random.Random, _day: date, _who: Contact | None) -> bool:
        value = row[column]
        if not value:
            return False
        style = rng.randrange(3)
        if style == 0:
            row[column] = rng.choice(("abc", "tbd", "see note", "O"))
        else:
            # A decimal comma and a unit glued on: what a European spreadsheet export looks like.
            comma = value.replace(".", ",") if "." in value else f"{value},0"
            row[column] = comma + (unit_suffix(row) if unit_suffix else "")
        return True

    return Corruption(TEXT_IN_NUMBER, apply)


def missing_required(*columns: int) -> Corruption:
    def apply(row: list[str], rng: random.Random, _day: date, _who: Contact | None) -> bool:
        column = rng.choice(columns)
        if not row[column]:
            return False
        row[column] = ""
        return True

    return Corruption(MISSING_REQUIRED, apply)


def duplicate_business_key(change: Callable[[list[str], random.Random], None]) -> Corruption:
    """The row is kept; a copy with the same key and changed other values follows later in the file."""

    def apply(row: list[str], rng: random.Random, _day: date, _who: Contact | None) -> list[str]:
        copy = row.copy()
        change(copy, rng)
        return copy

    return Corruption(DUPLICATE_BUSINESS_KEY, apply)


def formula_injection(*columns: int) -> Corruption:
    def apply(row: list[str], rng: random.Random, _day: date, _who: Contact | None) -> bool:
        row[rng.choice(columns)] = rng.choice(FORMULAS)
        return True

    return Corruption(FORMULA_INJECTION, apply)


def sql_looking(*columns: int, kept: bool = False) -> Corruption:
    """`kept`: the columns reach the warehouse (not dropped as direct identifiers)."""
    strings = SQL_STRINGS_WITHOUT_NAMES if kept else SQL_STRINGS

    def apply(row: list[str], rng: random.Random, _day: date, _who: Contact | None) -> bool:
        row[rng.choice(columns)] = rng.choice(strings)
        return True

    return Corruption(SQL_LOOKING, apply)


def pii_in_free_column(column: int, with_name: bool = True) -> Corruption:
    """The row's own person leaks into free text: their phone number, e-mail or (`with_name`) first name.

    A bare first name can only be caught in a column declared free text (scanned against the row's
    own person); elsewhere only what a pattern finds, phone numbers and e-mail addresses, is fair.
    """

    def apply(row: list[str], rng: random.Random, _day: date, who: Contact | None) -> bool:
        if who is None:
            return False
        text = row[column] or "follow-up"
        phone, email = who.phone_as_written(), who.email_as_written()
        style = rng.randrange(3 if with_name else 2)
        if style == 0 and phone:
            row[column] = f"{text}; call back on {phone}"
        elif style == 1 and email:
            row[column] = f"{text}; send results to {email}"
        elif with_name:
            row[column] = f"{who.first_name} reports {text}"
        elif phone or email:
            row[column] = f"{text}; contact {phone or email}"
        else:
            return False
        return True

    return Corruption(PII_IN_FREE_COLUMN, apply)


def not_allowed_value(column: int, values: Sequence[str]) -> Corruption:
    def apply(row: list[str], rng: random.Random, _day: date, _who: Contact | None) -> bool:
        row[column] = rng.choice(values)
        return True

    return Corruption(NOT_ALLOWED_VALUE, apply)


class Injector:
    """Corrupts about `rate` of the rows of one entity and counts what it did, per kind."""

    def __init__(self, seed: int, name: str, corruptions: Sequence[Corruption], rate: float = DEFAULT_RATE):
        self.name = name
        self.rng = Rng(f"{seed}:bad_rows:{name}")
        self.corruptions = tuple(corruptions)
        self.rate = rate
        self.turn = self.rng.randrange(len(self.corruptions)) if self.corruptions else 0
        self.counts: dict[str, int] = dict.fromkeys((c.kind for c in self.corruptions), 0)

    def process(self, row: list[str], file: FileTally, file_date: date, who: Contact | None = None) -> list[str] | None:
        """Maybe corrupt `row` in place; returns a duplicate to write later in the same file, or None."""
        if not self.corruptions or self.rng.random() >= self.rate:
            return None
        if file.corrupted + 1 > MAX_SHARE_PER_FILE * (file.seen + 1):
            return None
        n = len(self.corruptions)
        for attempt in range(n):
            corruption = self.corruptions[(self.turn + attempt) % n]
            outcome = corruption.apply(row, self.rng, file_date, who)
            if outcome is False:
                continue
            if attempt == 0:
                # A kind that did not fit this row (a negative height needs a height row) stays
                # first in line, so rare-fitting kinds are not starved.
                self.turn = (self.turn + 1) % n
            self.counts[corruption.kind] += 1
            file.corrupted += 1
            return outcome if isinstance(outcome, list) else None
        return None
