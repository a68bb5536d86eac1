"""Names in free text: folding, the forms a name is known by, and where names sit in a text.

One folding everywhere (`fold`): Unicode NFKD, combining marks dropped, a few letters that do not
decompose mapped by hand, then `casefold`. So "Zoë", "ZOE", "Zoe" and "Zoe\u0308" (NFD) are one
word, and the keyed tokens of `KnownNames` are of folded words: the same name hashes the same in
every run, whatever the accents or case of the file it came from.

A name value is known by several forms (`name_forms`): "O'Brien-Smith" is "obrien", "brien",
"smith" and "obriensmith", so the text's "OBRIEN-SMITH", "O'Brien", "Obrien" and "Smith" all match.
In text, a compound word (letters joined by apostrophes or hyphens) is redacted whole when any of
its forms is a name, so a double-barrelled name is never left half visible.

Two-letter names ("Wu", "Li", "Ng") are real and must be caught, but two-letter words are mostly
abbreviations in clinical text (ED, OR, IV, PO). A row's own two-letter name is redacted in any
case (the evidence is strong); a two-letter word known only from other rows is redacted when
written as a name (title case, "Wu") or upper-case next to another name ("WU, ANNA").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

import re2

# Letters that NFKD leaves alone; the usual ASCII spellings of them.
_UNDECOMPOSED = str.maketrans(
    {"\u00f8": "o", "\u00d8": "o", "\u0142": "l", "\u0141": "l", "\u0111": "d", "\u0110": "d",
     "\u00e6": "ae", "\u00c6": "ae", "\u0153": "oe", "\u0152": "oe", "\u00fe": "th", "\u00de": "th",
     "\u0131": "i"}
)  # fmt: skip
# ASCII apostrophe, right single quote, modifier letter apostrophe, grave and acute accents.
_APOSTROPHES = "'\u2019\u02bc`\u00b4"
# Hyphen-minus, hyphen, non-breaking hyphen, en dash.
_HYPHENS = "-\u2010\u2011\u2013"

# A compound word: runs of letters (with their combining marks, so NFD text stays whole) joined by
# apostrophes or hyphens. Positions are code points of the original text.
COMPOUND = re2.compile("[\\p{L}\\p{M}]+(?:[" + _APOSTROPHES + _HYPHENS.replace("-", "\\-") + "][\\p{L}\\p{M}]+)*")
_MARKER = re2.compile(r"\[REDACTED:[a-z_]+\]")

# Particles of multi-word surnames: too common as words to redact on their own.
PARTICLES = frozenset(
    ["de", "la", "le", "du", "des", "da", "di", "del", "della", "der", "den", "van", "von", "ter", "ten", "bin",
     "ibn", "al", "el", "st", "san", "santa", "dos", "das", "y", "e"]
)  # fmt: skip
HONORIFICS = frozenset(
    ["mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lady", "lord", "rev", "fr", "sr", "sra",
     "srta", "mme", "mlle", "herr", "frau"]
)  # fmt: skip
MIN_NAME_LENGTH = 2


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """Case- and accent-insensitive form of a word (or any text)."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _split(text: str, separators: str) -> list[str]:
    out = [text]
    for sep in separators:
        out = [piece for part in out for piece in part.split(sep)]
    return [p for p in out if p]


def _strip(text: str, separators: str) -> str:
    for sep in separators:
        text = text.replace(sep, "")
    return text


@lru_cache(maxsize=200_000)
def compound_forms(compound: str) -> tuple[str, ...]:
    """Folded forms of one compound word: every piece, every hyphen part joined, the whole joined."""
    folded = fold(compound)
    forms = {_strip(folded, _APOSTROPHES + _HYPHENS)}
    for part in _split(folded, _HYPHENS):
        forms.add(_strip(part, _APOSTROPHES))
        forms.update(_split(part, _APOSTROPHES))
    return tuple(f for f in forms if len(f) >= MIN_NAME_LENGTH and f not in PARTICLES and f.isalpha())


@lru_cache(maxsize=200_000)
def name_forms(value: str) -> frozenset[str]:
    """Every folded form a name value (one or more words) is known by."""
    forms: set[str] = set()
    for match in COMPOUND.finditer(value):
        forms.update(compound_forms(match.group()))
    return frozenset(forms)


def names_forms(values: Iterable[str | None]) -> frozenset[str]:
    forms: set[str] = set()
    for value in values:
        if value:
            forms |= name_forms(value)
    return frozenset(forms)


def _is_title(piece: str) -> bool:
    return piece[:1].isupper() and not piece[1:2].isupper()


def find_names(
    text: str, own: frozenset[str] = frozenset(), is_known: Callable[[str], bool] | None = None
) -> list[tuple[int, int]]:
    """(start, end) of every name in `text`: the row's own name forms `own`, words `is_known` says
    are names (called with folded forms), and capitalised words right after an honorific."""
    masked = [(m.start(), m.end()) for m in _MARKER.finditer(text)] if "[REDACTED:" in text else []
    words = [
        (m.start(), m.end(), m.group())
        for m in COMPOUND.finditer(text)
        if not any(s <= m.start() < e for s, e in masked)
    ]
    hit = [False] * len(words)
    weak = [False] * len(words)  # two-letter known word in upper case: a name only beside another
    for i, (_, _, word) in enumerate(words):
        forms = compound_forms(word)
        if own and any(f in own for f in forms):
            hit[i] = True
            continue
        if is_known is None:
            continue
        for form in forms:
            if not is_known(form):
                continue
            if len(form) > 2 or _is_title(word):
                hit[i] = True
                break
            weak[i] = True
    for i, (start, _, word) in enumerate(words):
        if hit[i] or i == 0:
            continue
        _, p_end, previous = words[i - 1]
        gap = text[p_end:start]
        if not (fold(previous) in HONORIFICS and gap and gap.strip(". ") == "" and word[:1].isupper()):
            continue
        if weak[i] or _is_title(previous):
            hit[i] = True  # "Mrs Cruz", "Dr. Okafor", "MR WU" (a known two-letter name)
        elif word.isupper() and len(word) >= 4 and any(c in "AEIOUY" for c in fold(word).upper()):
            # An all-capital honorific: "MR. OKAFOR" but not "mild MR. WBC 11.4" (mitral
            # regurgitation, then a lab) or "MS RR 18": abbreviations are short or vowel-less.
            hit[i] = True
    for i in range(len(words)):
        if weak[i] and not hit[i]:
            neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(words) and hit[j]]
            if any(_near(text, words[i], words[j]) for j in neighbours):
                hit[i] = True
    # A particle or an initial right before a name is part of it ("Van Buren", "Ó Súilleabháin",
    # "de la Cruz"): right to left, so a chain of them is taken whole.
    for i in range(len(words) - 2, -1, -1):
        word = words[i][2]
        joined = not hit[i] and hit[i + 1] and text[words[i][1] : words[i + 1][0]] == " "
        if joined and (fold(word) in PARTICLES or (len(word) == 1 and word.isupper())):
            hit[i] = True
    return [(start, end) for (start, end, _), h in zip(words, hit, strict=True) if h]


def _near(text: str, a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    first, second = (a, b) if a[0] < b[0] else (b, a)
    return text[first[1] : second[0]].strip(" ,.") == ""
