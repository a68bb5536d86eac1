"""Synthetic persons, generated in fixed-size chunks so memory stays flat at any population size.

A person is a pure function of (seed, index): chunk k always holds the same people whatever the total
asked for, so a run of 20,000 people starts with exactly the 2,000 of a smaller run. Identifiers
(SSN, MRN, member id) are bijections of the index, so they never collide between people, which
would silently merge two persons when the feeds are linked.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ingest.generate.geography import AREA_CODES, RESTRICTED_ZIP3, ZIP3
from ingest.generate.names import FEMALE_FIRST_NAMES, FOLDED, LAST_NAMES, MALE_FIRST_NAMES
from ingest.generate.randomness import Rng, Weighted, normal

CLIENTS: tuple[str, ...] = ("acme", "globex", "initech")
# Uneven client sizes, as in real contracts.
_CLIENTS = Weighted(CLIENTS, (0.45, 0.35, 0.20))

CHUNK_SIZE = 1000

_BIRTH_FIRST = date(1930, 1, 1).toordinal()
_BIRTH_LAST = date(2024, 12, 31).toordinal()

EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net", "mail.example.com")


class _Permutation:
    """index -> a distinct number in [0, size): an affine map modulo size with a unit multiplier."""

    def __init__(self, size: int, multiplier: int, offset: int) -> None:
        if math.gcd(size, multiplier) != 1:
            raise ValueError("multiplier must be coprime with size to be a bijection")
        self.size, self.multiplier, self.offset = size, multiplier, offset % size

    def __call__(self, index: int) -> int:
        return (index * self.multiplier + self.offset) % self.size


# Valid SSN areas: 001-899 without 666 (9xx is reserved for ITINs, 000 and 666 are never issued).
_SSN_AREAS = tuple(a for a in range(1, 900) if a != 666)
_SSN_SPACE = len(_SSN_AREAS) * 99 * 9999


def _ssn(number: int) -> str:
    serial = number % 9999 + 1
    number //= 9999
    group = number % 99 + 1
    area = _SSN_AREAS[number // 99]
    return f"{area:03d}-{group:02d}-{serial:04d}"


@dataclass(frozen=True, slots=True)
class Identifiers:
    """Seeded bijections: different seeds give different identifiers, same seed the same ones.

    Multipliers near the golden ratio of the space scatter consecutive people across it, so a file
    sorted by person does not show SSNs or MRNs counting up.
    """

    ssn: _Permutation
    mrn: _Permutation
    member: _Permutation
    synthea_ssn: _Permutation

    @classmethod
    def for_seed(cls, seed: int) -> Identifiers:
        rng = Rng(f"{seed}:identifiers")
        return cls(
            ssn=_Permutation(_SSN_SPACE, 549_389_633, rng.randrange(_SSN_SPACE)),
            mrn=_Permutation(10**8, 61_803_399, rng.randrange(10**8)),
            member=_Permutation(10**9, 618_033_989, rng.randrange(10**9)),
            synthea_ssn=_Permutation(99 * 9999, 611_792, rng.randrange(99 * 9999)),
        )


@dataclass(slots=True)
class Person:
    index: int
    client: str
    first_day: int  # index into the run's dates of the first file that mentions the person
    sex: str  # M or F: the biological sex the body model uses; feeds may code it differently
    first_name: str
    last_name: str
    birth_date: date
    ssn: str
    mrn: str
    member_id: str
    zip: str
    phone: str  # ten digits; each feed formats it its own way
    phone_style: int
    email: str
    height_z: float
    bmi_z: float
    in_clinic: bool
    in_roster: bool
    monitored: bool

    def age_on(self, day: date) -> float:
        return (day.toordinal() - self.birth_date.toordinal()) / 365.25

    def phone_as_written(self) -> str:
        """The phone number as the clinic writes it for this person."""
        return format_phone(self.phone, self.phone_style) if self.phone else ""

    def email_as_written(self) -> str:
        return self.email


def random_zip(rng: random.Random) -> str:
    prefix = rng.choice(RESTRICTED_ZIP3) if rng.random() < 0.05 else rng.choice(ZIP3)
    return f"{prefix}{rng.randrange(100):02d}"


def random_phone(rng: random.Random) -> str:
    return f"{rng.choice(AREA_CODES)}{rng.randrange(200, 1000)}{rng.randrange(10000):04d}"


def format_phone(digits: str, style: int) -> str:
    """The same number as different systems write it; normalisation is the warehouse's job."""
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    if style == 0:
        return f"({area}) {exchange}-{line}"
    if style == 1:
        return f"{area}-{exchange}-{line}"
    if style == 2:
        return f"{area}.{exchange}.{line}"
    if style == 3:
        return f"+1 {area} {exchange} {line}"
    return digits


def random_email(rng: random.Random, first: str, last: str) -> str:
    f, surname = FOLDED.get(first, "x"), FOLDED.get(last, "x")
    style = rng.randrange(4)
    if style == 0:
        local = f"{f}.{surname}"
    elif style == 1:
        local = f"{f[0]}{surname}{rng.randrange(1, 100)}"
    elif style == 2:
        local = f"{f}_{surname}{rng.randrange(1940, 2020)}"
    else:
        local = f"{surname}.{f}{rng.randrange(1, 10)}"
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def random_birth_date(rng: random.Random) -> date:
    return date.fromordinal(rng.randint(_BIRTH_FIRST, _BIRTH_LAST))


def first_day_of(rng: random.Random, days: int) -> int:
    # Day one is the initial load with most people; later days are deltas with newcomers.
    if days == 1 or rng.random() < 0.6:
        return 0
    return rng.randrange(1, days)


def people_chunk(seed: int, chunk: int, count: int, days: int, ids: Identifiers) -> list[Person]:
    """People chunk*CHUNK_SIZE .. +count; the stream for a chunk depends only on seed and chunk."""
    rng = Rng(f"{seed}:people:{chunk}")
    people: list[Person] = []
    base = chunk * CHUNK_SIZE
    for offset in range(count):
        index = base + offset
        client = _CLIENTS.pick(rng)
        sex = "M" if rng.random() < 0.49 else "F"
        first = rng.choice(MALE_FIRST_NAMES if sex == "M" else FEMALE_FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        in_clinic = rng.random() < 0.95
        in_roster = rng.random() < 0.9 or not in_clinic
        people.append(
            Person(
                index=index,
                client=client,
                first_day=first_day_of(rng, days),
                sex=sex,
                first_name=first,
                last_name=last,
                birth_date=random_birth_date(rng),
                ssn=_ssn(ids.ssn(index)),
                mrn=f"MRN{ids.mrn(index):08d}",
                member_id=f"M{ids.member(index):09d}",
                zip=random_zip(rng),
                phone=random_phone(rng) if rng.random() < 0.97 else "",
                phone_style=rng.randrange(5),
                email=random_email(rng, first, last) if rng.random() < 0.92 else "",
                height_z=normal(rng.random),
                bmi_z=normal(rng.random),
                in_clinic=in_clinic,
                in_roster=in_roster,
                monitored=in_clinic and rng.random() < 0.05,
            )
        )
    return people


def chunks(total: int) -> Iterator[tuple[int, int]]:
    """(chunk number, people in it) covering `total` people."""
    for chunk in range(math.ceil(total / CHUNK_SIZE)):
        yield chunk, min(CHUNK_SIZE, total - chunk * CHUNK_SIZE)


def synthea_ssn(ids: Identifiers, index: int) -> str:
    # Synthea writes 999-xx-xxxx: area 999 is never issued, so its SSNs are recognisably fake.
    number = ids.synthea_ssn(index)
    return f"999-{number // 9999 + 1:02d}-{number % 9999 + 1:04d}"


def iso_ts(day: date, seconds: int) -> str:
    """UTC timestamp in the ISO form every feed here uses: 2026-11-18T09:05:00Z."""
    if seconds >= 86400 or seconds < 0:
        day += timedelta(days=seconds // 86400)
        seconds %= 86400
    hours, rest = divmod(seconds, 3600)
    return f"{day.isoformat()}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def later_ts(timestamp: str, minutes: int) -> str:
    """An iso_ts timestamp moved forward: the newer version of a record."""
    moved = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ") + timedelta(minutes=minutes)
    return moved.strftime("%Y-%m-%dT%H:%M:%SZ")
