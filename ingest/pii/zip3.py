"""US ZIP codes reduced to the 3-digit prefix HIPAA Safe Harbor allows.

Safe Harbor permits the first three digits only where the area they cover holds more than 20,000
people; the others must be released as "000". The list is the one HHS derived from the 2000
census, which the guidance still references.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ingest.pii._arrow import ArrayLike, as_utf8

RESTRICTED_PREFIXES: frozenset[str] = frozenset(
    {
        "036", "059", "063", "102", "203", "556", "692", "790", "821",
        "823", "830", "831", "878", "879", "884", "890", "893",
    }
)  # fmt: skip
SUPPRESSED = "000"

# 5 digits, optionally +4 (with or without the dash), or 4 digits: a ZIP that lost its leading
# zero to a spreadsheet ("2139" for 02139). A 4-digit value only takes a dashed +4, because
# "21391234" could as well be a 5+3 typo. Three digits are refused: they are as likely an
# already-truncated prefix as a ZIP that lost two zeros (Puerto Rico, 006xx-009xx).
_ZIP = r"^\s*(?:(?P<five>[0-9]{5})(?:-?[0-9]{4})?|(?P<four>[0-9]{4})(?:-[0-9]{4})?)\s*$"


def zip3(values: ArrayLike) -> pa.Array:
    """The Safe Harbor 3-digit prefix of each ZIP: restricted areas become "000", non-ZIPs null."""
    text = as_utf8(values)
    # Most values are five ASCII digits, whose prefix is their first three: only the others go through
    # the regex (which cost ~0.6 s per 1M values on its own).
    plain = pc.fill_null(pc.and_(pc.equal(pc.binary_length(text), 5), pc.ascii_is_decimal(text)), False)
    prefix = pc.utf8_slice_codeunits(text, 0, 3)
    if not pc.all(plain).as_py():
        other = pc.invert(plain)
        prefix = pc.replace_with_mask(prefix, other, _prefix(text.filter(other)))
    restricted = pc.is_in(prefix, value_set=pa.array(sorted(RESTRICTED_PREFIXES), prefix.type))
    return pc.if_else(restricted, pa.scalar(SUPPRESSED, prefix.type), prefix)


def _prefix(text: pa.Array) -> pa.Array:
    groups = pc.extract_regex(text, _ZIP)  # null struct where the value is not a ZIP
    five = pc.struct_field(groups, "five")  # "" when the 4-digit branch matched
    four = pc.utf8_lpad(pc.struct_field(groups, "four"), width=5, padding="0")
    zip5 = pc.if_else(pc.equal(five, ""), four, five)
    return pc.utf8_slice_codeunits(zip5, 0, 3)
