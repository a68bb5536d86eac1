"""`warehouse bench pii`: the free-text detectors against the labelled corpus (ingest/pii/corpus/).

The corpus is run the way the loader treats a free-text column: every detector, the row's own
name (the record's `own_names`, as the loader's name columns) and the known-name index (learnt
from `known_names.txt`, as the loader learns earlier files' names), in one call of
`detect.redact_free_text`. The baseline is the detector of before (`ingest.pii._baseline_v1`)
run the way the loader ran it: `redact`, then the whole value replaced by "[REDACTED:own_name]"
when the row's own name is in it, then the known names.

Span matching, so that the figures can be checked by hand:

* Redacted spans are recovered from the output text alone: the text between markers must appear
  in order in the input, and what a marker replaced is the input between those pieces.
* A gold span is **found** when every one of its characters lies inside redacted spans (a
  redaction that leaves "Smith" of "Obrien-Smith" finds nothing). Recall = found / gold.
* A redacted span is a **true positive** when it overlaps some gold span. Precision = true
  positives / redacted spans. A whole value replaced counts as one span (one true positive at
  most, however much it hid).
* Per class: recall by the gold span's class (whatever marker covered it); precision by the
  marker's class ("own_name" counts as name).

Rows/s is the detector alone (no I/O) over the corpus repeated to `repeat` x its size, best of
three runs; both detectors get the same input.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ingest.pii import detect
from ingest.pii.keys import PseudonymKey
from ingest.pii.known_names import KnownNames

CORPUS_DIR = Path(__file__).resolve().parent / "pii" / "corpus"
CLASSES = (*detect.DETECTOR_NAMES, "name")
TARGET_RECALL, TARGET_CLASS_RECALL, TARGET_PRECISION = 0.98, 0.95, 0.90
_MARKER = re.compile(r"\[REDACTED:([a-z_]+)\]")
_KEY = PseudonymKey.from_bytes(b"bench-pii-key-not-secret")


@dataclass
class Corpus:
    texts: list[str]
    gold: list[list[tuple[int, int, str]]]
    given: list[str | None]
    surname: list[str | None]
    kinds: list[str]
    known: list[str]


def load_corpus(directory: Path = CORPUS_DIR) -> Corpus:
    records = [json.loads(line) for line in (directory / "pii_corpus.jsonl").read_text("utf-8").splitlines() if line]
    known = [n for n in (directory / "known_names.txt").read_text("utf-8").splitlines() if n]
    return Corpus(
        texts=[r["text"] for r in records],
        gold=[[(s["start"], s["end"], s["class"]) for s in r["spans"]] for r in records],
        given=[(r["own_names"] or [None, None])[0] for r in records],
        surname=[(r["own_names"] or [None, None])[1] for r in records],
        kinds=[r["kind"] for r in records],
        known=known,
    )


def redacted_spans(original: str, redacted: str) -> list[tuple[int, int, str]]:
    """Spans of `original` that the markers in `redacted` replaced (see the module doc)."""
    pieces = _MARKER.split(redacted)
    literals, labels = pieces[0::2], pieces[1::2]
    if not labels:
        return []
    pattern = "(.+?)".join(re.escape(lit) for lit in literals)
    match = re.fullmatch(pattern, original, flags=re.DOTALL)
    if match is None:  # the text was rewritten beyond markers: count all of it as one redaction
        return [(0, len(original), labels[0])]
    return [(match.start(i + 1), match.end(i + 1), label) for i, label in enumerate(labels)]


@dataclass
class Score:
    gold: dict[str, int] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)
    predicted: dict[str, int] = field(default_factory=dict)
    true_positive: dict[str, int] = field(default_factory=dict)
    clean_rows_touched: int = 0
    clean_rows: int = 0

    @staticmethod
    def _ratio(a: int, b: int) -> float:
        return a / b if b else 1.0

    def recall(self, cls: str | None = None) -> float:
        if cls is None:
            return self._ratio(sum(self.found.values()), sum(self.gold.values()))
        return self._ratio(self.found.get(cls, 0), self.gold.get(cls, 0))

    def precision(self, cls: str | None = None) -> float:
        if cls is None:
            return self._ratio(sum(self.true_positive.values()), sum(self.predicted.values()))
        return self._ratio(self.true_positive.get(cls, 0), self.predicted.get(cls, 0))

    def meets_targets(self) -> bool:
        return (
            self.recall() >= TARGET_RECALL
            and all(self.recall(c) >= TARGET_CLASS_RECALL for c in self.gold)
            and self.precision() >= TARGET_PRECISION
        )


def score(corpus: Corpus, outputs: list[str | None]) -> Score:
    result = Score()
    for text, gold, kind, out in zip(corpus.texts, corpus.gold, corpus.kinds, outputs, strict=True):
        spans = redacted_spans(text, out or "")
        covered = [False] * len(text)
        for start, end, _ in spans:
            covered[start:end] = [True] * (end - start)
        for start, end, cls in gold:
            result.gold[cls] = result.gold.get(cls, 0) + 1
            if all(covered[start:end]):
                result.found[cls] = result.found.get(cls, 0) + 1
        for start, end, label in spans:
            cls = "name" if label == "own_name" else label
            result.predicted[cls] = result.predicted.get(cls, 0) + 1
            if any(start < g_end and g_start < end for g_start, g_end, _ in gold):
                result.true_positive[cls] = result.true_positive.get(cls, 0) + 1
        if kind == "clean":
            result.clean_rows += 1
            result.clean_rows_touched += bool(spans)
    return result


def run_current(corpus: Corpus, texts: pa.Array, given: pa.Array, surname: pa.Array) -> pa.Array:
    known = KnownNames(_KEY)
    known.learn(pa.array(corpus.known))
    return detect.redact_free_text(texts, [given, surname], known)


def run_baseline(corpus: Corpus, texts: pa.Array, given: pa.Array, surname: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    from ingest.pii import _baseline_v1 as v1

    known = v1.KnownNamesV1(_KEY)
    known.learn(pa.array(corpus.known))
    redacted = v1.redact(texts)
    own = v1.scan_row_names(texts, [given, surname])
    redacted = pc.if_else(own, pa.scalar("[REDACTED:own_name]", pa.string()), redacted)
    return known.redact(redacted)


@dataclass
class Result:
    label: str
    score: Score
    rows_per_second: float


def _timed(run: Callable[..., pa.Array], corpus: Corpus, repeat: int) -> float:
    tiled = Corpus(
        corpus.texts * repeat, corpus.gold * repeat, corpus.given * repeat, corpus.surname * repeat,
        corpus.kinds * repeat, corpus.known,
    )  # fmt: skip
    args = (
        pa.array(tiled.texts, pa.string()),
        pa.array(tiled.given, pa.string()),
        pa.array(tiled.surname, pa.string()),
    )
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        run(tiled, *args)
        best = min(best, time.perf_counter() - started)
    return len(tiled.texts) / best


def bench_pii(repeat: int = 10, corpus: Corpus | None = None) -> list[Result]:
    corpus = corpus or load_corpus()
    args = (
        pa.array(corpus.texts, pa.string()),
        pa.array(corpus.given, pa.string()),
        pa.array(corpus.surname, pa.string()),
    )
    results = []
    for label, run in (("current (libraries)", run_current), ("baseline (before)", run_baseline)):
        outputs = run(corpus, *args).to_pylist()
        results.append(Result(label, score(corpus, outputs), _timed(run, corpus, repeat)))
    return results


def format_results(results: list[Result], corpus: Corpus | None = None) -> str:
    corpus = corpus or load_corpus()
    first = results[0].score
    lines = [
        f"corpus: {len(corpus.texts)} strings ({corpus.kinds.count('pii')} with PII, {corpus.kinds.count('clean')} "
        f"without), {sum(first.gold.values())} gold spans; {len(corpus.known)} known names",
        f"{'class':<14}" + "".join(f"{r.label:>44}" for r in results),
        f"{'':<14}" + "".join(f"{'gold':>8}{'found':>8}{'recall':>9}{'redacted':>10}{'precision':>9}" for _ in results),
    ]
    for cls in CLASSES:
        row = f"{cls:<14}"
        for r in results:
            s = r.score
            row += (
                f"{s.gold.get(cls, 0):>8}{s.found.get(cls, 0):>8}{s.recall(cls):>9.3f}"
                f"{s.predicted.get(cls, 0):>10}{s.precision(cls):>9.3f}"
            )
        lines.append(row)
    row = f"{'overall':<14}"
    for r in results:
        s = r.score
        row += (
            f"{sum(s.gold.values()):>8}{sum(s.found.values()):>8}{s.recall():>9.3f}"
            f"{sum(s.predicted.values()):>10}{s.precision():>9.3f}"
        )
    lines.append(row)
    lines.append(
        "clean strings with any redaction: "
        + ", ".join(f"{r.label} {r.score.clean_rows_touched}/{r.score.clean_rows}" for r in results)
    )
    lines.append("rows/s (detector only): " + ", ".join(f"{r.label} {r.rows_per_second:,.0f}" for r in results))
    verdict = "meets" if first.meets_targets() else "MISSES"
    lines.append(
        f"{results[0].label} {verdict} the targets: recall >= {TARGET_RECALL} overall and >= "
        f"{TARGET_CLASS_RECALL} per class, precision >= {TARGET_PRECISION}"
    )
    return "\n".join(lines)
