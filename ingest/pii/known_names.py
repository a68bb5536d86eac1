"""Names seen anywhere, remembered only as keyed tokens, so free text can be redacted of them.

A clinic note like "Owen reports fever" sits in the encounters file while Owen's name sits in the
patients file, maybe of last week. The loader keeps an HMAC token of every name word it drops
(`audit.name_tokens`; as safe as identifier tokens: useless without the key) and redacts any word
of a free-text column whose token is known. Common words that are also surnames ("day", "white")
are over-redacted in free text; that is the safe side.

Tokens are of *folded* forms (`ingest.pii.names.fold`: NFKD, marks dropped, casefold), and learning
records every form a name is known by (`name_forms`: "O'Brien-Smith" gives "obrien", "brien",
"smith", "obriensmith"), so a name learnt from "Zoë Ångström" last week matches "ZOE ANGSTROM" today.
For ASCII words the folded form is the lower-case form, so tokens saved before folding existed
still match; accented names learnt before then are re-learnt in their folded form on their next load.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from ingest.pii._arrow import ArrayLike, as_utf8
from ingest.pii.keys import PseudonymKey
from ingest.pii.names import fold, name_forms

REDACTED_NAME = "[REDACTED:name]"


@dataclass
class KnownNames:
    key: PseudonymKey
    tokens: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)  # learnt this run, not yet saved
    _verdicts: dict[str, bool] = field(default_factory=dict)  # folded form -> is a known name
    # Values already learnt: a big file repeats its names batch after batch, and folding a value into
    # its forms costs more than everything else learning does.
    _learnt: set[str] = field(default_factory=set)

    def token_for(self, word: str) -> str:
        """The keyed token of a name word, of its folded form (so it is the same in every run)."""
        return hmac.new(self.key.key, b"name:" + fold(word).encode(), hashlib.sha256).hexdigest()

    def learn(self, names: ArrayLike) -> None:
        learnt = self._learnt
        for value in pc.unique(pc.drop_null(as_utf8(names))).to_pylist():
            if value in learnt:
                continue
            learnt.add(value)
            for form in name_forms(value):
                if self._verdicts.get(form):
                    continue
                token = self.token_for(form)
                self._verdicts[form] = True
                if token not in self.tokens:
                    self.tokens.add(token)
                    self.pending.add(token)

    def is_name(self, form: str) -> bool:
        """Whether a folded word is a known name; each distinct word is hashed once per run."""
        verdict = self._verdicts.get(form)
        if verdict is None:
            verdict = self.token_for(form) in self.tokens
            self._verdicts[form] = verdict
        return verdict

    def redact(self, values: ArrayLike) -> pa.Array:
        """Known names (and honorific + name) replaced by "[REDACTED:name]"; see detect.redact_free_text."""
        from ingest.pii.detect import redact_names  # detect imports this module for its types

        text = as_utf8(values)
        if len(text) == 0:
            return text
        return redact_names(text, known_names=self if self.tokens else None)
