"""Names seen anywhere, remembered only as keyed tokens, so free text can be redacted of them.

A clinic note like "Owen reports fever" sits in the encounters file while Owen's name sits in the
patients file, maybe of last week. The loader keeps an HMAC token of every name word it drops
(`audit.name_tokens`; as safe as identifier tokens: useless without the key) and redacts any word
of a free-text column whose token is known. Common words that are also surnames ("day", "white")
are over-redacted in free text; that is the safe side.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from ingest.pii.keys import PseudonymKey

WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)  # letters only, three or more
REDACTED_NAME = "[REDACTED:name]"


@dataclass
class KnownNames:
    key: PseudonymKey
    tokens: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)  # learnt this run, not yet saved
    _verdicts: dict[str, bool] = field(default_factory=dict)

    def _token(self, word: str) -> str:
        return hmac.new(self.key.key, b"name:" + word.lower().encode(), hashlib.sha256).hexdigest()

    def learn(self, names: pa.Array) -> None:
        for value in pc.unique(pc.drop_null(names)).to_pylist():
            for word in WORD.findall(value):
                token = self._token(word)
                if token not in self.tokens:
                    self.tokens.add(token)
                    self.pending.add(token)
                    self._verdicts[word.lower()] = True

    def _is_name(self, word: str) -> bool:
        lowered = word.lower()
        verdict = self._verdicts.get(lowered)
        if verdict is None:
            verdict = self._token(lowered) in self.tokens
            self._verdicts[lowered] = verdict
        return verdict

    def redact(self, values: pa.Array) -> pa.Array:
        """Vectorised: each distinct word is judged once, then one RE2 pass replaces the names."""
        if not self.tokens or len(values) == 0:
            return values
        words = pc.unique(pc.list_flatten(pc.split_pattern_regex(pc.drop_null(values), r"[^\p{L}]+"))).to_pylist()
        names = sorted({w for w in words if len(w) >= 3 and self._is_name(w)}, key=len, reverse=True)
        if not names:
            return values
        alternation = "|".join(re.escape(n) for n in names)
        # Letters on neither side, so "Ann" does not eat into "Annual"; RE2 has no look-around, so the
        # neighbouring characters are captured and written back.
        pattern = rf"(^|[^\p{{L}}])(?i:{alternation})([^\p{{L}}]|$)"
        redacted = values
        for _ in range(2):  # adjacent names share a separator; a second pass catches the other one
            redacted = pc.replace_substring_regex(redacted, pattern, rf"\1{REDACTED_NAME}\2")
        return redacted
