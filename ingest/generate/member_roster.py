"""member_roster: an insurer's member list, two files per client per day (`_1` then `_2`).

Members are the clinic's patients seen from the payer's side: linked by SSN (national_id), but with
the payer's own spelling of them. For a few percent the roster disagrees with the clinic (ZIP, name,
phone, e-mail, date of birth), and later files repeat members with plan, address or end-date changes
(SCD1 / SCD2 material) as well as some unchanged repeats that a merge must absorb.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta

from ingest.generate import bad_rows as bad
from ingest.generate.daily_feed import DailyCsvFeed
from ingest.generate.names import LAST_NAMES, NICKNAMES
from ingest.generate.people import Person, format_phone, random_email, random_phone, random_zip
from ingest.generate.randomness import Rng, Weighted
from ingest.generate.writers import FileKind, Landing

FEED = "member_roster"
ENTITY = "members"
FILES_PER_DAY = 2

HEADER = (
    "member_id", "first_name", "last_name", "date_of_birth", "zip", "phone", "email", "national_id", "plan",
    "start_date", "end_date",
)  # fmt: skip
HEADERS: dict[str, tuple[str, ...]] = {ENTITY: HEADER}

KIND = FileKind.csv(
    FEED,
    ENTITY,
    HEADER,
    pii={
        "member_id": "member_id",
        "first_name": "first_name",
        "last_name": "last_name",
        "date_of_birth": "birth_date",
        "zip": "zip",
        "phone": "phone",
        "email": "email",
        "national_id": "ssn",
    },
)

PLANS = ("bronze", "silver", "gold", "platinum")
_PLANS = Weighted(PLANS, (0.3, 0.4, 0.2, 0.1))
# Each payer formats phone numbers its own way (styles of people.format_phone).
_PHONE_STYLE = {"acme": 1, "globex": 0, "initech": 4}

_PLAN, _ZIP, _PHONE, _START, _END = (HEADER.index(c) for c in ("plan", "zip", "phone", "start_date", "end_date"))


def _first_of_next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _conflicting_birth_date(born: date, rng: random.Random) -> date:
    # Day and month swapped where that is still a date, else a day off: classic keying errors.
    if born.day <= 12 and born.day != born.month and rng.random() < 0.7:
        return born.replace(month=born.day, day=born.month)
    return born + timedelta(days=rng.choice((-1, 1)))


def _change_plan_or_zip(row: list[str], rng: random.Random) -> None:
    if rng.random() < 0.5:
        row[_PLAN] = rng.choice([p for p in PLANS if p != row[_PLAN]] or list(PLANS))
    else:
        row[_ZIP] = random_zip(rng)


def injector(seed: int) -> bad.Injector:
    col = HEADER.index
    return bad.Injector(
        seed,
        f"{FEED}/{ENTITY}",
        [
            bad.bad_date_format(col("date_of_birth"), col("start_date")),
            bad.future_birth_date(col("date_of_birth")),
            bad.missing_required(col("member_id"), col("last_name"), col("date_of_birth"), col("plan")),
            bad.duplicate_business_key(_change_plan_or_zip),
            bad.formula_injection(col("first_name"), col("last_name")),
            bad.sql_looking(col("last_name")),
            bad.not_allowed_value(col("plan"), ("diamond", "GOLD", "Silver ", "premium")),
        ],
    )


class MemberRoster(DailyCsvFeed):
    def __init__(self, seed: int, landing: Landing, dates: Sequence[date]) -> None:
        super().__init__(seed, landing, dates, KIND, FILES_PER_DAY, injector(seed))

    def write_chunk(self, people: Sequence[Person], chunk: int) -> None:
        rng = Rng(f"{self.seed}:{FEED}:{chunk}")
        for person in people:
            if person.in_roster:
                self._member(person, rng)

    def _member(self, person: Person, rng: random.Random) -> None:
        first = person.first_name
        if first in NICKNAMES and rng.random() < 0.15:
            first = NICKNAMES[first]
        last = rng.choice(LAST_NAMES) if rng.random() < 0.02 else person.last_name
        born = _conflicting_birth_date(person.birth_date, rng) if rng.random() < 0.01 else person.birth_date
        style = _PHONE_STYLE[person.client]
        phone = person.phone if rng.random() >= 0.04 else random_phone(rng)
        roll = rng.random()
        if roll < 0.05:
            email = person.email.title()  # same mailbox, different case
        elif roll < 0.10:
            email = random_email(rng, person.first_name, last)
        else:
            email = person.email
        roll = rng.random()
        if roll < 0.02:
            national_id = person.ssn.replace("-", " ")
        elif roll < 0.04:
            national_id = ""  # the payer never got the SSN: this member cannot be linked by it
        else:
            national_id = person.ssn
        joined = self.dates[person.first_day]
        start_month = rng.randint(0, max(0, (joined.year - 2015) * 12 + joined.month - 1))
        row = [
            person.member_id,
            first,
            last,
            born.isoformat(),
            person.zip if rng.random() >= 0.05 else random_zip(rng),
            format_phone(phone, style) if phone else "",
            email,
            national_id,
            _PLANS.pick(rng),
            date(2015 + start_month // 12, start_month % 12 + 1, 1).isoformat(),
            "",
        ]
        self._emit(person, person.first_day, 1, row.copy())
        ended = False
        for d in range(person.first_day, len(self.dates)):
            same_day = d == person.first_day
            roll = rng.random()
            if ended or roll >= (0.10 if same_day else 0.07):
                continue
            seq = FILES_PER_DAY if same_day else rng.randint(1, FILES_PER_DAY)
            if roll < (0.04 if same_day else 0.02):
                pass  # an unchanged repeat: loading it twice must change nothing
            else:
                ended = self._change(row, self.dates[d], rng, style)
            self._emit(person, d, seq, row.copy())

    @staticmethod
    def _change(row: list[str], day: date, rng: random.Random, phone_style: int) -> bool:
        """Apply one roster change in place; True when the membership ended."""
        what = rng.random()
        if what < 0.5:
            row[_PLAN] = rng.choice([p for p in PLANS if p != row[_PLAN]])
            row[_START] = _first_of_next_month(day).isoformat()
            return False
        if what < 0.85:
            row[_ZIP] = random_zip(rng)
            if rng.random() < 0.5:
                row[_PHONE] = format_phone(random_phone(rng), phone_style)
            return False
        row[_END] = (_first_of_next_month(day) - timedelta(days=1)).isoformat()
        return True
