"""patient_visits: billing's visit extract, several files per client per day (`_1` ... `_N`).

Each file covers a third of the day, so `last_updated` only grows from file to file: a watermark on
it sees every change. Later files re-send some earlier visits with a new cost and a newer
last_updated (updates), and some visits arrive days after their visit_date (late-arriving facts).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta

from ingest.generate import bad_rows as bad
from ingest.generate.daily_feed import DailyCsvFeed
from ingest.generate.people import Person, iso_ts, later_ts
from ingest.generate.randomness import Rng, Weighted
from ingest.generate.writers import FileKind, Landing

FEED = "patient_visits"
ENTITY = "visits"
FILES_PER_DAY = 3

HEADER = ("visit_id", "patient_id", "visit_date", "visit_type", "visit_cost", "last_updated")
HEADERS: dict[str, tuple[str, ...]] = {ENTITY: HEADER}
KIND = FileKind.csv(FEED, ENTITY, HEADER, pii={"patient_id": "mrn"})

VISIT_TYPES = ("checkup", "follow_up", "urgent", "specialist")
_VISIT_TYPES = Weighted(VISIT_TYPES, (0.4, 0.3, 0.15, 0.15))
_COST_RANGE = {"checkup": (80, 220), "follow_up": (60, 160), "urgent": (150, 650), "specialist": (200, 900)}
_WINDOW = 86400 // FILES_PER_DAY  # seconds of the day each file covers


def _cost(visit_type: str, rng: random.Random) -> str:
    low, high = _COST_RANGE[visit_type]
    return f"{rng.randint(low * 100, high * 100) / 100:.2f}"


def _stamp(day: date, seq: int, rng: random.Random) -> str:
    return iso_ts(day, (seq - 1) * _WINDOW + rng.randrange(_WINDOW - 600))


def _rebill(row: list[str], rng: random.Random) -> None:
    # The same visit twice in one file: the later row, with a newer last_updated, must win.
    row[4] = _cost(row[3] if row[3] in _COST_RANGE else "checkup", rng)
    row[5] = later_ts(row[5], rng.randint(1, 30))


def injector(seed: int) -> bad.Injector:
    col = HEADER.index
    return bad.Injector(
        seed,
        f"{FEED}/{ENTITY}",
        [
            bad.bad_date_format(col("visit_date")),
            bad.text_in_number(col("visit_cost")),
            bad.missing_required(col("visit_id"), col("patient_id"), col("visit_date")),
            bad.duplicate_business_key(_rebill),
            bad.not_allowed_value(col("visit_type"), ("walk_in", "Checkup", "emergency", "tele")),
        ],
    )


class PatientVisits(DailyCsvFeed):
    def __init__(self, seed: int, landing: Landing, dates: Sequence[date]) -> None:
        super().__init__(seed, landing, dates, KIND, FILES_PER_DAY, injector(seed))
        self._next_id = 0

    def write_chunk(self, people: Sequence[Person], chunk: int) -> None:
        rng = Rng(f"{self.seed}:{FEED}:{chunk}")
        for person in people:
            if person.in_clinic:
                self._person(person, rng)

    def _person(self, person: Person, rng: random.Random) -> None:
        for d in range(person.first_day, len(self.dates)):
            chance = 0.7 if d == person.first_day else 0.15
            if rng.random() >= chance:
                continue
            for _ in range(1 + (rng.random() < 0.1)):
                self._visit(person, d, rng)

    def _visit(self, person: Person, d: int, rng: random.Random) -> None:
        day = self.dates[d]
        seq = rng.randint(1, FILES_PER_DAY)
        visit_date = day
        if rng.random() < 0.05:
            # Late-arriving: the visit happened days before the file that reports it.
            visit_date = max(person.birth_date, day - timedelta(days=rng.randint(2, 10)))
        visit_type = _VISIT_TYPES.pick(rng)
        self._next_id += 1
        row = [
            f"V{self._next_id:09d}",
            person.mrn,
            visit_date.isoformat(),
            visit_type,
            _cost(visit_type, rng),
            _stamp(day, seq, rng),
        ]
        self._emit(person, d, seq, row.copy())
        if rng.random() >= 0.08:
            return
        # An update: the claim is re-priced and re-sent in a later file of the day or the next day.
        if seq < FILES_PER_DAY:
            later_d, later_seq = d, rng.randint(seq + 1, FILES_PER_DAY)
        elif d + 1 < len(self.dates):
            later_d, later_seq = d + 1, 1
        else:
            return
        row[4] = _cost(visit_type, rng)
        row[5] = _stamp(self.dates[later_d], later_seq, rng)
        self._emit(person, later_d, later_seq, row)
