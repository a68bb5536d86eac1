"""Header cells, file names and other text a landed file carries, as they may be shown and stored.

Everything a file carries is data until proven otherwise: a header row can be a record (a file
without a header), a header cell can be a person's name or e-mail, a landing file can be named
after a patient. Such text is never stored, printed, logged or reported as it is. It is shown as
text only when it passes the PII scan and looks like a column (or feed) name; otherwise it is
described by position, length and shape, with a keyed id (HMAC with the pseudonymisation key,
truncated) so that the operator can recognise the same cell across files and runs, and nobody
without the key can test guesses against it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ingest.config import Feed
from ingest.pii import detect
from ingest.pii.keys import PseudonymKey
from ingest.pii.known_names import KnownNames

# What a column name looks like: letters, digits, `_` and spaces, at least one letter, bounded.
COLUMN_NAME = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9_ ]{1,64}$")
ID_LENGTH = 8
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,8})$")
_DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_NUMBER_LIKE = re.compile(r"^\s*[+-]?[\d.,() -]+\s*$")


# A header cell of letters and spaces passes every detector when it is the name of a person nobody
# has seen yet ("Quelquelbru Ithlunulm"). So a cell is shown only when every word of it is a column
# word: one of these, or a word of a declared column (`source` or `name` of any feed). Declaring a
# column in the YAML is what makes its header cell showable from then on.
_COMMON_COLUMN_WORDS = """
    id ids key code codes name type kind status state value values unit units description desc text note
    notes comment comments label date time datetime timestamp day month year start stop end begin from to
    at by on of in the and or per is has no num number count total amount cost price base quantity qty
    dose dosage route reason category class system display version seq sequence order line row file
    client source record created updated modified deleted active flag effective period site location
    device sensor reading readings result results test lab observation observations patient patients
    member members encounter encounters visit visits medication medications condition conditions procedure
    procedures provider providers organization payer payers plan claim claims coverage item items product
    package drug substance strength form marketing application schedule labeler first last given family
    middle birth death sex gender race ethnicity marital address city county zip postal country region
    phone email consent ssn mrn national identifier lat lon latitude longitude min max avg mean sum rate
    score level heart pressure systolic diastolic temperature temp weight height bmi pulse humidity
    category range low high normal reference interval frequency duration prefix suffix extra other
"""
COMMON_COLUMN_WORDS = frozenset(_COMMON_COLUMN_WORDS.split())
_WORD_PIECE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


def column_words(feeds: Iterable[Feed] = ()) -> frozenset[str]:
    """The words header cells may be shown with: the common ones and every declared column's."""
    words = set(COMMON_COLUMN_WORDS)
    for feed in feeds:
        for entity in feed.entities.values():
            for column in entity.columns:
                for text in (column.source, column.name):
                    words.update(piece.lower() for piece in _WORD_PIECE.findall(text))
    return frozenset(words)


_SNAKE_CASE = re.compile(r"^(?:[a-z0-9]+(?:_[a-z0-9]+)+|[A-Z0-9]+(?:_[A-Z0-9]+)+)$")


def _column_shaped(text: str, vocabulary: frozenset[str]) -> bool:
    """Written the way a program names a column (`favourite_colour`, `ICD10_CODE`: nobody writes a
    person's name in snake case), or made of column words only; short all-lower or all-upper pieces
    (`bp`, `MRN`) are abbreviations. A short capitalised word ("Wu") is not: it is written like a name."""
    if _SNAKE_CASE.match(text):
        return True
    for piece in _WORD_PIECE.findall(text):
        if piece.lower() in vocabulary:
            continue
        if len(piece) <= 3 and (piece.islower() or piece.isupper()):
            continue
        return False
    return True


def shape(text: str) -> str:
    """Which kinds of characters a text holds, e.g. "letters+space" or "digits+punct"."""
    kinds = []
    if any(ch.isalpha() for ch in text):
        kinds.append("letters")
    if any(ch.isdigit() for ch in text):
        kinds.append("digits")
    if any(ch.isspace() for ch in text):
        kinds.append("space")
    if any(not (ch.isalnum() or ch.isspace()) for ch in text):
        kinds.append("punct")
    return "+".join(kinds) or "empty"


@dataclass
class Describer:
    """Decides what of a file's own text may be shown; `key` None (no key at hand) drops the ids."""

    key: PseudonymKey | None
    names: KnownNames | None = None
    vocabulary: frozenset[str] = COMMON_COLUMN_WORDS
    _ids: dict[str, str] = field(default_factory=dict)

    def text_id(self, text: str) -> str:
        if self.key is None:
            return "unkeyed"
        found = self._ids.get(text)
        if found is None:
            digest = hmac.new(self.key.key, b"describe:" + text.encode("utf-8", "replace"), hashlib.sha256)
            found = self._ids[text] = digest.hexdigest()[:ID_LENGTH]
        return found

    def pii(self, text: str) -> str | None:
        return detect.contains_pii(text, known_names=self.names)

    def safe_column_name(self, text: str) -> bool:
        return bool(COLUMN_NAME.match(text)) and _column_shaped(text, self.vocabulary) and self.pii(text) is None

    def cell(self, text: str, position: int) -> HeaderCell:
        """Header cell `position` (1-based) as it may be shown."""
        shown = text if self.safe_column_name(text) else None
        return HeaderCell(
            position, shown, f"column {position} ({self.size(text)}, {shape(text)}, id {self.text_id(text)})"
        )

    def file_name(self, name: str, pattern: re.Pattern[str] | None) -> str:
        """A landed file's name, or its description when it does not match the feed's pattern or
        carries something that looks like PII (a person's name, a phone number)."""
        if self.file_name_safe(name, pattern):
            return name
        extension = _EXTENSION.search(name)
        suffix = f".{extension.group(1).lower()}" if extension else "no extension"
        return f"file #{self.text_id(name)} ({suffix}, {len(name)} chars)"

    def file_name_safe(self, name: str, pattern: re.Pattern[str] | None) -> bool:
        match = pattern.match(name) if pattern is not None else None
        return match is not None and self.file_name_pii(name, match) is None

    def file_name_pii(self, name: str, match: re.Match[str] | None) -> str | None:
        """What looks like PII in a file name; the delivery date its pattern asks for is not a birth date."""
        if match is not None and match.re.groupindex.get("file_date") and match.group("file_date"):
            # By number: RE2 matches (feed patterns, ingest.config.compile_linear) take no group names here.
            start, end = match.span(match.re.groupindex["file_date"])
            name = f"{name[:start]} {name[end:]}"
        return self.pii(name)

    @staticmethod
    def size(text: str) -> str:
        return f"{len(text)} char{'s' if len(text) != 1 else ''}"

    def looks_like_data(self, text: str) -> bool:
        """A header cell that reads like a value: a number, date, e-mail, identifier or known name."""
        value = text.strip()
        if not value:
            return False
        digits = sum(ch.isdigit() for ch in value)
        return (
            digits >= 3
            or "@" in value
            or bool(_DATE_LIKE.match(value))
            or bool(_NUMBER_LIKE.match(value) and digits)
            or self.pii(value) is not None
        )


@dataclass(frozen=True)
class HeaderCell:
    position: int  # 1-based
    text: str | None  # the cell itself, only when it is safe to show
    description: str  # position, length, shape and keyed id

    @property
    def label(self) -> str:
        return self.text if self.text is not None else self.description


def redact_message(text: str, describer: Describer | None = None) -> str | None:
    """A message that may quote data (a parser's, a driver's), or None when it holds anything that
    looks like PII: the caller then says what kind of error it was, not what it said."""
    found = detect.contains_pii(text, known_names=describer.names if describer else None)
    return None if found else text
