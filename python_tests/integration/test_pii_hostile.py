"""The PII leak test, hostile: one ingest of a small generated landing zone plus files made to slip
personal data past the loader, then every place a value could end up is searched for every planted
value: every table as every role, the server's data files and WAL, its log, dlt's working folder,
the Parquet copy, the data-quality report, the alerts as received, and what every command printed.

The planted values are drawn fresh for each run (rare made-up names, random digits), so a hit can
only come from this run's ingest: the WAL and the server log are shared with every other database of
the server, and other tests load generated people of their own."""

from __future__ import annotations

import csv
import html
import io
import json
import random
import re
import secrets
import shutil
import string
import subprocess
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import ahocorasick
import psycopg2.errors
import pytest
import yaml

from ingest.config import load_feeds
from ingest.generate.landing import generate_landing_zone
from python_tests.conftest import run_cli
from python_tests.integration.ingest_helpers import TEST_KEY
from python_tests.integration.test_ingest_end_to_end import decoded, dump_folder, ingest_cli
from python_tests.unit.test_dq_alerts import SmtpServer, WebhookServer, channel_env, channels_config
from warehouse.db.connection import connect
from warehouse.db.roles import ROLES
from warehouse.db.target import ADMIN, Target

pytestmark = pytest.mark.integration

CLIENT = "hx"  # the generator's clients are acme, globex and initech: our files never replace theirs
DAY = date(2026, 11, 18)  # the generator's first day
ROLE_NAMES = (ADMIN, *ROLES)

# ---- planted values ------------------------------------------------------------------------------------

SYLLABLES = (
    "vor", "quel", "zan", "thra", "mir", "bex", "lun", "dra", "kes", "ith", "wen", "orl", "fen", "gar", "spi",
    "nox", "tav", "rul", "sey", "brik", "hol", "yen", "cas", "pru", "dov", "lek", "maz", "tor", "vel", "ska",
    "ulm", "rof", "tin", "gwy", "pel", "dar", "osk", "fim", "bru", "zek",
)  # fmt: skip
# Not among the generator's surnames (it has Li and Le): a hit on one of these is ours.
TWO_LETTER_SURNAMES = ("Wu", "Xu", "Ng", "Vo", "Ly")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip


def fold(text: str) -> str:
    """Accents dropped, the way a keyboard without them writes `Zoe Angstrom` for `Zoë Ångström`."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    birth: date
    mrn: str
    member_id: str
    ssn: str
    zip: str
    phone: str
    email: str

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Item:
    """One planted value. `raw` is what the byte scans of the server's files look for: None for values
    too short or too plain to be told from chance bytes (five digits, a two-letter word), which are
    searched there by `context` instead (the value with the unique text written right after it)."""

    kind: str
    value: str
    planted_in: str
    raw: str | None = None
    context: str | None = None


@dataclass
class Plan:
    rng: random.Random
    items: list[Item] = field(default_factory=list)
    avoid: str = ""  # the generated landing zone as text: a value drawn must not occur in it already
    drawn: set[str] = field(default_factory=set)
    # Hostile files that are valid deliveries all the same (PII where free text allows it, a few
    # invalid rows under the threshold): redacted and quarantined row by row, never held whole.
    well_formed: list[str] = field(default_factory=list)

    def plant(self, kind: str, value: str, planted_in: str, *, context: str | None = None) -> str:
        short = len(value) < 6 or value.isdigit()
        self.items.append(Item(kind, value, planted_in, None if short else value, context))
        return value

    def fresh(self, make: Callable[[], str]) -> str:
        """A drawn value that the generated files and the earlier draws do not hold (its own hits only)."""
        for _ in range(1000):
            value = make()
            if value.lower() not in self.avoid and value not in self.drawn:
                self.drawn.add(value)
                return value
        raise AssertionError("could not draw a fresh value")

    def word(self, syllables: int, accent: str = "") -> str:
        def make() -> str:
            while True:
                text = "".join(self.rng.choice(SYLLABLES) for _ in range(syllables))
                # The accented letter replaces a vowel that has a precomposed form with that accent
                # (å, not e + ring), so the composed, decomposed and folded spellings all differ.
                vowels = [
                    i
                    for i, ch in enumerate(text)
                    if ch in "aeiou" and len(unicodedata.normalize("NFC", ch + accent)) == 1
                ]
                if not accent or vowels:
                    break
            if accent:
                i = self.rng.choice(vowels)
                text = text[:i] + unicodedata.normalize("NFC", text[i] + accent) + text[i + 1 :]
            return text[0].upper() + text[1:]

        return self.fresh(make)

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def ssn(self, sep: str) -> str:
        return self.fresh(lambda: sep.join((f"{self.rng.randint(101, 599)}", f"{self.rng.randint(10, 99)}",
                                            f"{self.rng.randint(1000, 9999)}")))  # fmt: skip

    def us_phone(self) -> str:
        return self.fresh(lambda: f"{self.rng.randint(201, 989)}-{self.rng.randint(201, 989)}-{self.digits(4)}")

    def person(self, first: str, last: str) -> Person:
        born = self.fresh(
            lambda: f"{self.rng.randint(1931, 1979)}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"
        )
        birth = date.fromisoformat(born)
        local = re.sub(r"[^a-z.]", "", fold(f"{first}.{last}").lower())  # O'Brien-Smith: obrien-smith has no quote
        return Person(
            first=first,
            last=last,
            birth=birth,
            mrn=self.fresh(lambda: f"MRN{self.digits(8)}"),
            member_id=self.fresh(lambda: f"M{self.digits(9)}"),
            ssn=self.ssn("-"),
            # A leading zero: counts, sizes and ids that the dumps also hold are never written with one.
            zip=self.fresh(lambda: f"0{self.digits(4)}"),
            phone=self.us_phone(),
            email=self.fresh(lambda: f"{local}{self.digits(3)}@mail-{self.digits(4)}.org"),
        )  # fmt: skip


# ---- landing files -------------------------------------------------------------------------------------


def csv_text(header: Iterable[str] | None, rows: Iterable[Iterable[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header is not None:
        writer.writerow(list(header))
    writer.writerows(rows)
    return out.getvalue()


def land(landing: Path, feed: str, entity: str, name: str, text: str) -> str:
    folder = landing / feed / entity
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return f"{feed}/{entity}/{name}"


def sources(feed: str, entity: str) -> list[str]:
    return [c.source for c in load_feeds()[feed].entities[entity].columns]


def by_source(feed: str, entity: str, **values: str) -> list[str]:
    """A row in the order of the feed's declared columns (a column left out is empty)."""
    return [values.get(name, "") for name in sources(feed, entity)]


def plant_hostile_files(landing: Path, plan: Plan) -> list[str]:
    """The hostile files, each value recorded in `plan`; returns their landing paths."""
    a = plan.person(plan.word(3, "\u0308"), plan.word(4, "\u030a"))  # Zoë Ångström
    b = plan.person(plan.word(3), plan.word(3))  # written "Mrs <surname>"
    c = plan.person(plan.word(3), plan.rng.choice(TWO_LETTER_SURNAMES))
    d = plan.person(plan.word(3), f"O'{plan.word(3)}-{plan.word(3)}")  # written OBRIEN-SMITH
    e = plan.person(plan.word(3), plan.word(3))  # only in member_roster, a later feed than the note naming them
    g = plan.person(plan.word(3), plan.word(3))  # the first record of a headerless file
    h = plan.person(plan.word(3, "\u0301"), plan.word(3))  # a header cell
    i = plan.person(plan.word(3), plan.word(3))  # the file name
    stamp = f"{DAY.isoformat()}T08:00:00Z"
    files = []

    # clinic_emr patients: the people whose names the loader drops (and so learns).
    where = land(landing, "clinic_emr", "patients", f"{CLIENT}_{DAY}.csv", csv_text(
        sources("clinic_emr", "patients"),
        [by_source("clinic_emr", "patients", patient_id=p.mrn, first_name=p.first, last_name=p.last,
                   birth_date=p.birth.isoformat(), sex="F", ssn=p.ssn, zip=p.zip, phone=p.phone, email=p.email,
                   consent="Y", updated_at=stamp) for p in (a, b, c, d)],
    ))  # fmt: skip
    files.append(where)
    plan.well_formed.append(where)
    # Each part of a compound surname is a name on its own (a note may say "Mr Smith" for O'Brien-Smith).
    for part in d.last.removeprefix("O'").split("-"):
        plan.plant("last_name_part", part, where)
    for p in (a, b, c, d):
        plan.plant("mrn", p.mrn, where)
        plan.plant("first_name", p.first, where)
        plan.plant("last_name", p.last, where)
        plan.plant("ssn", p.ssn, where)
        plan.plant("zip", p.zip, where)
        plan.plant("phone", p.phone, where)
        plan.plant("email", p.email, where)

    # clinic_emr encounters: every form in the free-text column, one a row (its own context on a hit).
    fr_phone = plan.fresh(lambda: f"+33 1 {plan.digits(2)} {plan.digits(2)} {plan.digits(2)} {plan.digits(2)}")
    idn_email = plan.fresh(lambda: f"{fold(a.first).lower()[:2]}\u00eb{plan.digits(3)}@ex\u00e4mple{plan.digits(3)}.se")
    dotted_ssn = plan.ssn(".")
    dob = a.birth
    month = MONTHS[dob.month - 1]
    case_code = plan.fresh(lambda: "".join(plan.rng.choice(string.ascii_uppercase) for _ in range(6)))
    d_shouted = fold(d.last).replace("'", "").upper()  # OBRIEN-SMITH
    notes = [
        ("phone_fr", fr_phone, f"Call back on {fr_phone} after results"),
        ("email_idn", idn_email, f"Wrote to {idn_email} with the plan"),
        ("ssn_dotted", dotted_ssn, f"SSN on file {dotted_ssn}, verify"),
        ("birth_date_iso_time", f"{dob.isoformat()}T00:00", f"Born {dob.isoformat()}T00:00 per intake"),
        ("birth_date_d_mon_y", f"{dob.day} {month[:3]} {dob.year}", f"DOB {dob.day} {month[:3]} {dob.year} confirmed"),
        ("birth_date_month_d_y", f"{month} {dob.day}, {dob.year}", f"Date of birth {month} {dob.day}, {dob.year}"),
        ("birth_date_dotted", f"{dob:%d.%m.%Y}", f"dob {dob:%d.%m.%Y} on the form"),
        ("name_with_title", b.last, f"Mrs {b.last} reports dizziness"),
        ("name_accent_folded", fold(a.full), f"{fold(a.full)} asked for a copy"),
        ("name_nfd", unicodedata.normalize("NFD", a.full), f"{unicodedata.normalize('NFD', a.full)} seen today"),
        ("name_two_letter", c.last, f"Spoke with {c.last} about dosing, case {case_code}"),
        ("name_apostrophe_hyphen_shouted", d_shouted, f"{d_shouted} called re: refill"),
        ("name_first_seen_in_a_later_feed", e.full, f"Referred by {e.full} (payer)"),
        ("name_possessive", b.first, f"{b.first}'s chart reviewed"),
        ("name_lowercase", a.full.lower(), f"pt {a.full.lower()} stable"),
        # A quoted cell over two lines: line-based handling (logs, messages) must not split it past a detector.
        ("phone_in_a_multi_line_cell", b.phone, f"Night call.\nReach {b.first} on {b.phone} before 9"),
    ]
    owner = {"name_with_title": b, "name_possessive": b, "name_two_letter": c, "name_apostrophe_hyphen_shouted": d,
             "phone_in_a_multi_line_cell": b}  # fmt: skip
    where = land(landing, "clinic_emr", "encounters", f"{CLIENT}_{DAY}.csv", csv_text(
        sources("clinic_emr", "encounters"),
        [by_source("clinic_emr", "encounters", encounter_id=f"ENCHX{n:05d}", patient_id=owner.get(kind, a).mrn,
                   encounter_date=DAY.isoformat(), encounter_type="ambulatory", site_id="S01", reason=note)
         for n, (kind, _value, note) in enumerate(notes)],
    ))  # fmt: skip
    files.append(where)
    plan.well_formed.append(where)
    for kind, value, note in notes:
        context = note[note.index(value) :] if kind == "name_two_letter" else None
        plan.plant(f"free_text:{kind}", value, where, context=context)

    # clinic_emr observations: PII in `none` columns failing their checks, among enough good rows that
    # the file stays under the 5 % threshold (two bad rows in 52).
    in_decimal = plan.ssn("-")
    good = [
        by_source("clinic_emr", "observations", observation_id=f"OBSHX{n:05d}", patient_id=a.mrn,
                  encounter_id="ENCHX00000", observed_at=stamp, code_system="LOINC", code="8867-4",
                  value=str(60 + n % 30), unit="/min")
        for n in range(50)
    ]  # fmt: skip
    bad = [
        by_source("clinic_emr", "observations", observation_id="OBSHX90001", patient_id=a.mrn,
                  encounter_id="ENCHX00000", observed_at=stamp, code_system="LOINC", code="8867-4",
                  value=in_decimal, unit="/min"),
        by_source("clinic_emr", "observations", observation_id="OBSHX90002", patient_id=a.mrn,
                  encounter_id="ENCHX00000", observed_at=stamp, code_system="LOINC", code="8867-4",
                  value="72", unit=a.full),
    ]  # fmt: skip
    rows = good[:20] + bad[:1] + good[20:] + bad[1:]
    where = land(landing, "clinic_emr", "observations", f"{CLIENT}_{DAY}.csv",
                 csv_text(sources("clinic_emr", "observations"), rows))  # fmt: skip
    files.append(where)
    plan.well_formed.append(where)
    plan.plant("ssn_in_decimal_column", in_decimal, where)
    plan.plant("name_in_allowed_values_column", a.full, where)

    # clinic_emr medications: PII in a `none` column that passes every check (kept, but scanned).
    dose_email = plan.fresh(lambda: f"pharm{plan.digits(4)}@ex\u00e4mple{plan.digits(3)}.se")
    doses = [f"10 mg daily, questions to {dose_email}", f"5 mg, ask {a.full}", f"2 tabs, call {d.phone}"]
    where = land(landing, "clinic_emr", "medications", f"{CLIENT}_{DAY}.csv", csv_text(
        sources("clinic_emr", "medications"),
        [by_source("clinic_emr", "medications", medication_id=f"MEDHX{n:05d}", patient_id=a.mrn,
                   encounter_id="ENCHX00000", ndc_code="0002-1433", start_date=str(DAY), dose_text=dose)
         for n, dose in enumerate(doses)],
    ))  # fmt: skip
    files.append(where)
    plan.plant("none_column:email_idn", dose_email, where)
    plan.plant("none_column:name", a.full, where)
    plan.plant("none_column:phone", d.phone, where)

    # member_roster (a later feed than clinic_emr): the person a clinic note named.
    member = lambda p: by_source("member_roster", "members", member_id=p.member_id, first_name=p.first,  # noqa: E731
                                 last_name=p.last, date_of_birth=p.birth.isoformat(), zip=p.zip, phone=p.phone,
                                 email=p.email, national_id=p.ssn, plan="gold", start_date="2025-01-01")  # fmt: skip
    where = land(landing, "member_roster", "members", f"{CLIENT}_{DAY}_1.csv",
                 csv_text(sources("member_roster", "members"), [member(e)]))  # fmt: skip
    files.append(where)
    plan.well_formed.append(where)
    for kind, value in (("member_id", e.member_id), ("first_name", e.first), ("last_name", e.last),
                        ("zip", e.zip), ("phone", e.phone), ("email", e.email), ("ssn", e.ssn)):  # fmt: skip
        plan.plant(f"later_feed:{kind}", value, where)

    # member_roster without its header: the first record (a member) is read where the header should be.
    where = land(landing, "member_roster", "members", f"{CLIENT}_{DAY}_2.csv", csv_text(None, [member(g), member(b)]))
    files.append(where)
    for kind, value in (("member_id", g.member_id), ("first_name", g.first), ("last_name", g.last),
                        ("birth_date", g.birth.isoformat()), ("zip", g.zip), ("phone", g.phone), ("email", g.email),
                        ("ssn", g.ssn)):  # fmt: skip
        plan.plant(f"headerless_first_record:{kind}", value, where)
    plan.plant("headerless_second_record:member_id", b.member_id, where)

    # patient_visits: a person's name and an e-mail as header cells.
    visit = by_source("patient_visits", "visits", visit_id="V900000001", patient_id=a.mrn, visit_date=str(DAY),
                      visit_type="checkup", visit_cost="120.00", last_updated=stamp)  # fmt: skip
    # One name with an accent, one in plain ASCII (a detector may take only the first for a name),
    # and the name of a patient the loader has learnt earlier in the run (clinic_emr comes first).
    h2 = plan.person(plan.word(3), plan.word(3))
    header = [*sources("patient_visits", "visits"), h.full, h.email, h2.full, b.full, h.phone]
    where = land(landing, "patient_visits", "visits", f"{CLIENT}_{DAY}_1.csv",
                 csv_text(header, [[*visit, "x", "y", "z", "w", "v"]]))  # fmt: skip
    files.append(where)
    plan.plant("header_cell:name", h.full, where)
    plan.plant("header_cell:first_name", h.first, where)
    plan.plant("header_cell:last_name", h.last, where)
    plan.plant("header_cell:email", h.email, where)
    plan.plant("header_cell:name_ascii", h2.full, where)
    plan.plant("header_cell:known_name", b.full, where)
    plan.plant("header_cell:phone", h.phone, where)

    # patient_visits: a file named after a person and their phone number.
    name = f"{i.first.lower()}_{i.last.lower()}_{i.phone}.csv"
    where = land(landing, "patient_visits", "visits", name, csv_text(sources("patient_visits", "visits"), [visit]))
    files.append(where)
    plan.plant("file_name:first_name", i.first, where)
    plan.plant("file_name:last_name", i.last, where)
    plan.plant("file_name:phone", i.phone, where)

    # vitals (NDJSON): a value that is an object holding a name and an e-mail.
    nested_email = plan.fresh(lambda: f"nurse.{plan.digits(5)}@ward-{plan.digits(4)}.org")
    lines = [
        {"patient_id": a.mrn, "recorded_at": f"{DAY}T08:{m:02d}:00Z", "heart_rate": 70, "spo2": 97,
         "respiratory_rate": 14, "device_id": "MON-7"}
        for m in range(30)
    ]  # fmt: skip
    lines[7]["device_id"] = {"assigned_to": a.full, "contact": {"email": nested_email}}
    where = land(landing, "vitals", "readings", f"{CLIENT}_{DAY}.ndjson",
                 "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))  # fmt: skip
    files.append(where)
    plan.well_formed.append(where)
    plan.plant("nested_json:name", a.full, where)
    plan.plant("nested_json:email", nested_email, where)

    # vitals: a person's name and an e-mail as keys of an NDJSON record (its header, in effect), and
    # the name of a member the loader has learnt from member_roster, an earlier feed than vitals.
    j = plan.person(plan.word(3), plan.word(3))
    line = {**lines[0], j.full: "on call", j.email: 1, e.full: "next of kin"}
    where = land(landing, "vitals", "readings", f"{CLIENT}_{DAY}_2.ndjson", json.dumps(line, ensure_ascii=False) + "\n")
    files.append(where)
    plan.plant("ndjson_key:name", j.full, where)
    plan.plant("ndjson_key:email", j.email, where)
    plan.plant("ndjson_key:known_name", e.full, where)

    # vitals: a delivery inside a sub-folder named after a person and their phone number.
    k = plan.person(plan.word(3), plan.word(3))
    folder = f"{k.first.lower()}_{k.last.lower()}_{k.phone}"
    where = land(landing, "vitals", f"readings/{folder}", f"{CLIENT}_{DAY}_3.ndjson", json.dumps(lines[0]) + "\n")
    files.append(where)
    plan.plant("folder_name:first_name", k.first, where)
    plan.plant("folder_name:last_name", k.last, where)
    plan.plant("folder_name:phone", k.phone, where)
    return files


# ---- scanning ------------------------------------------------------------------------------------------

ASCII_LOWER = bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())


def spellings(value: str) -> set[str]:
    """The forms a value can take on its way through: composed, decomposed, without accents."""
    return {unicodedata.normalize("NFC", value), unicodedata.normalize("NFD", value), fold(value)}


class Scanner:
    """Every planted value in every spelling, case-insensitively, in one pass over a text or a file.

    A value that is one word (letters or digits only) must stand alone: `Wu` is no hit inside `Wuhan`,
    a ZIP code none inside a longer number. Byte scans read the UTF-8 and ASCII-case-folded bytes of
    each spelling (upper, lower and title case for the non-ASCII letters)."""

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.text = ahocorasick.Automaton()
        self.raw = ahocorasick.Automaton()
        for n, item in enumerate(items):
            for form in spellings(item.value):
                self._add(self.text, form.lower(), (n, form.isalnum()))
            needle = item.raw or item.context
            for form in spellings(needle) if needle else ():
                for cased in {form, form.lower(), form.upper(), form.title()}:
                    key = cased.encode("utf-8").translate(ASCII_LOWER).decode("latin-1")
                    self._add(self.raw, key, (n, False))
        self.text.make_automaton()
        self.raw.make_automaton()

    @staticmethod
    def _add(automaton: ahocorasick.Automaton, key: str, payload: tuple[int, bool]) -> None:
        entries = automaton.get(key, [])
        entry = (*payload, len(key))
        if entry not in entries:
            automaton.add_word(key, [*entries, entry])

    def in_text(self, place: str, text: str) -> list[Hit]:
        lowered = text.lower()
        shown = text if len(lowered) == len(text) else lowered  # offsets must line up for the context
        hits = []
        for end, entries in self.text.iter(lowered):
            for n, whole_word, length in entries:
                start = end + 1 - length
                if whole_word and not (_edge(lowered, start - 1) and _edge(lowered, end + 1)):
                    continue
                # In a database dump, the relation the hit is in (the dump's `-- schema.table` line).
                header = text.rfind("\n-- ", 0, start) if place.startswith("database read") else -1
                relation = text[header + 4 : text.find("\n", header + 1)] + ": " if header >= 0 else ""
                hits.append(Hit(n, place, relation + repr(shown[max(0, start - 160) : end + 60])))
        return hits

    def in_bytes(self, place: str, name: str, data: bytes) -> list[Hit]:
        folded = data.translate(ASCII_LOWER).decode("latin-1")
        hits = []
        for end, entries in self.raw.iter(folded):
            for n, _whole_word, length in entries:
                start = end + 1 - length
                window = data[max(0, start - 80) : end + 61].decode("utf-8", errors="backslashreplace")
                hits.append(Hit(n, place, f"{name} at byte {start}: {window!r}"))
        return hits

    def report(self, hits: Iterable[Hit]) -> list[str]:
        """One line per place and value: the kinds planted with that value, how many hits, and the
        context of the first (values planted in several forms are found in several at once)."""
        groups: dict[tuple[str, str], list[Hit]] = {}
        for hit in hits:
            groups.setdefault((hit.place, self.items[hit.n].value), []).append(hit)
        lines = []
        for (place, value), found in sorted(groups.items()):
            kinds = ", ".join(sorted({self.items[h.n].kind for h in found}))
            contexts = sorted({h.context for h in found})
            lines.append(f"{place}: {value!r} [{kinds}] {len(contexts)} hit(s), e.g. ...{contexts[0]}...")
        return lines


@dataclass(frozen=True)
class Hit:
    n: int  # the item's index
    place: str
    context: str


def _edge(text: str, i: int) -> bool:
    return i < 0 or i >= len(text) or not text[i].isalnum()


def readable(text: str) -> list[str]:
    """`text` and what a reader of it sees: HTML entities and JSON's \\u escapes resolved (a report
    writing `Zo&#235;` or `Zo\\u00eb` still shows the name), dlt's encoded blobs decoded."""
    forms = [text]
    if "&" in text:
        forms.append(html.unescape(text))
    if "\\u" in text:
        forms.append(re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text))
    blobs = decoded(text)
    if blobs != text:
        forms.append(blobs)
    return forms


def unfolded_tables(text: str) -> str:
    """rich folds a long cell over several lines of its column (`--explain`, the run summary): each
    column's pieces joined again, so a file name cut in two is still one string to search."""
    columns: dict[int, list[str]] = {}
    for line in text.splitlines():
        if "│" in line or "┃" in line:
            for i, cell in enumerate(re.split("[│┃]", line)):
                columns.setdefault(i, []).append(cell.strip())
    return "\n".join("".join(parts) for parts in columns.values())


def mail_text(message: EmailMessage) -> str:
    """A mail as its reader sees it: headers decoded (RFC 2047) and every text part decoded
    (quoted-printable or base64 hide a name with an accent from a search of the raw message)."""
    parts = [message.as_string()]
    parts += [f"{k}: {v}" for k, v in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def dump_as(target: Target, database: str, role: str) -> tuple[str, int]:
    """Everything `role` can read in `database`: every table and view of every schema it may use,
    the names of relations and columns, comments and the planner's column statistics (sample values).
    Returns the text and the number of relations read."""
    info = target.admin(database) if role == ADMIN else target.role(role, database)
    conn = connect(info)
    conn.autocommit = True
    parts: list[str] = []
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where c.relkind in ('r', 'v', 'm', 'p', 'f') "
                "and n.nspname not in ('pg_catalog', 'information_schema') "
                "and n.nspname not like 'pg\\_toast%%' and n.nspname not like 'pg\\_temp%%' "
                "and has_schema_privilege(n.oid, 'USAGE') and has_table_privilege(c.oid, 'SELECT') order by 1, 2"
            )
            relations = cur.fetchall()
            for schema, name in relations:
                parts.append(f"-- {schema}.{name}")
                try:
                    cur.execute(f'select t::text from "{schema}"."{name}" t')
                except psycopg2.errors.InsufficientPrivilege:
                    # A view over tables the role may not read: the role cannot see through it either.
                    parts.append("(not readable)")
                    continue
                parts.extend(row[0] for row in cur.fetchall())
            for catalog in (
                "select n.nspname || '.' || c.relname || '.' || coalesce(a.attname, '') from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace left join pg_attribute a on a.attrelid = c.oid "
                "where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%%'",
                "select d.description from pg_description d",
                "select s::text from pg_stats s where s.schemaname not in ('pg_catalog', 'information_schema')",
            ):
                cur.execute(catalog)
                parts.extend(str(row[0]) for row in cur.fetchall())
    finally:
        conn.close()
    return "\n".join(parts), len(relations)


def server_files(target: Target, database: str) -> Iterator[tuple[str, bytes]]:
    """The raw bytes of the database's own files (base/<oid>/) and of the WAL, after a checkpoint has
    written every changed page to its file."""
    conn = connect(target.admin(database))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("checkpoint")
            cur.execute("select oid from pg_database where datname = current_database()")
            oid = cur.fetchone()[0]
    finally:
        conn.close()
    pgdata = target.state.pgdata
    for folder in (pgdata / "base" / str(oid), pgdata / "pg_wal"):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                try:
                    yield str(path.relative_to(pgdata)), path.read_bytes()
                except FileNotFoundError:  # a WAL segment recycled while we read the folder
                    continue


@pytest.fixture
def database(target: Target) -> Iterator[str]:
    name = f"test_hostile_{secrets.token_hex(4)}"
    target.init([name], log=lambda _msg: None)
    yield name
    target.drop(name)


def test_hostile_inputs_leave_no_planted_value_anywhere(target: Target, database: str, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate_landing_zone(landing, patients=20, seed=3, days=1)
    generated = sorted(str(p.relative_to(landing)) for p in landing.rglob("*") if p.is_file())
    everything = "\n".join((landing / g).read_text(encoding="utf-8", errors="replace") for g in generated)
    # The WAL outlives databases: it still holds what earlier runs of this test loaded (leaked or
    # not). Values drawn again by chance would be hits of an earlier run, so a plan any of whose
    # values the WAL already holds is drawn again.
    for _ in range(5):
        seed = secrets.randbits(48)
        plan = Plan(random.Random(seed), avoid=everything.lower())
        staged = tmp_path / f"hostile-{seed}"
        hostile = plant_hostile_files(staged, plan)
        scanner = Scanner(plan.items)
        wal = () if target.external else (f for f in server_files(target, database) if f[0].startswith("pg_wal"))
        if not any(scanner.in_bytes("WAL", name, data) for name, data in wal):
            break
    else:
        raise AssertionError("five plans in a row held values the WAL already had")
    shutil.copytree(staged, landing, dirs_exist_ok=True)
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps([asdict(i) for i in plan.items], ensure_ascii=False, indent=1), encoding="utf-8")
    # The scans are not vacuous: the landing zone itself holds every planted value, in text and in bytes.
    landed = b"".join((landing / h).read_bytes() for h in hostile) + b"\n".join(
        p.name.encode() for p in landing.rglob("*")
    )
    missed = set(range(len(plan.items))) - {h.n for h in scanner.in_text("landing", landed.decode())}
    assert not missed, [plan.items[n] for n in missed]
    missed = {n for n, i in enumerate(plan.items) if i.raw or i.context} - {
        h.n for h in scanner.in_bytes("landing", "", landed)
    }
    assert not missed, [plan.items[n] for n in missed]
    assert {i.kind.split(":")[0] for i in plan.items} >= {"free_text", "header_cell", "file_name", "nested_json"}

    log_path = target.state.pg_log
    log_offset = log_path.stat().st_size if log_path.exists() else 0
    marker = f"scan-marker-{secrets.token_hex(6)}"
    conn = connect(target.admin(database))
    conn.autocommit = True
    with conn.cursor() as cur:
        # The server logs DDL statements: this one proves the log is read from the right offset. Its
        # row proves the data-file scan reads this database's files after the checkpoint.
        cur.execute(f"create table public.scan_marker as select '{marker}'::text as v")
    conn.close()

    work_dir, parquet, reports = tmp_path / "dlt", tmp_path / "pseudonymised", tmp_path / "reports"
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    outputs["ingest"] = ingest_cli(landing, database, work_dir, parquet=parquet)
    assert outputs["ingest"].returncode == 0, outputs["ingest"].stderr[-3000:]
    outputs["ingest --explain"] = ingest_cli(landing, database, work_dir, "--explain", parquet=parquet)
    with WebhookServer() as webhook, SmtpServer() as smtp:
        config = tmp_path / "alerts.yml"
        alerts = channels_config(webhook, smtp)
        config.write_text(yaml.safe_dump({"report": {"out_dir": str(reports)}, "alerts": alerts}))
        env = {"WAREHOUSE_DB_NAME": database, "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY,
               "WAREHOUSE_ALERTS_CONFIG": str(config), **channel_env(webhook)}  # fmt: skip
        for command in ("report", "check", "alert"):
            outputs[f"dq {command}"] = run_cli("dq", command, env=env)
        posts, mails = list(webhook.posts), list(smtp.messages)
    assert outputs["dq report"].returncode == 0, outputs["dq report"].stdout + outputs["dq report"].stderr
    assert outputs["dq alert"].returncode == 0, outputs["dq alert"].stdout + outputs["dq alert"].stderr
    # Held and rejected files are findings: the alerts went out, so their scan below reads something.
    assert posts and mails, outputs["dq alert"].stdout + outputs["dq alert"].stderr

    # Checked with the leaks, not before them: a file wrongly refused must not hide what leaked.
    statuses: dict[str, set[str]] = {}
    loads = connect_and_fetch(
        target,
        database,
        "select feed || '/' || coalesce(entity, '') || '/' || file_name, status || coalesce(': ' || reason, '') "
        "from audit.file_loads",
    )
    for path, status in loads:
        statuses.setdefault(path, set()).add(status)
    not_loaded = {
        g: statuses.get(g)
        for g in [*generated, *plan.well_formed]
        if not any(s.startswith("loaded") for s in statuses.get(g, ()))
    }

    places: dict[str, str] = {}
    for role in ROLE_NAMES:
        text, relations = dump_as(target, database, role)
        places[f"database read as {role}"] = text
        if role in (ADMIN, "loader", "auditor"):
            assert relations, f"{role} read no table at all: the dump is broken"
    # The hostile rows themselves were read (in raw or in quarantine, redacted): by their ids, no PII.
    unseen = [
        i for i in ("ENCHX00000", "ENCHX00012", "OBSHX90001", "OBSHX90002") if i not in places["database read as admin"]
    ]
    assert not unseen, f"rows of the hostile files are in no table: {unseen}"
    if not target.external:  # an external server's log is not ours to read
        text = log_path.read_bytes()
        # A server restarted meanwhile (another session's test) starts its log afresh: read it whole.
        places["server log"] = text[log_offset if len(text) >= log_offset else 0 :].decode("utf-8", errors="replace")
    assert target.external or marker in places["server log"], "the log is not read from where the test began"
    places["dlt working folder"] = dump_folder(work_dir)
    assert list(parquet.rglob("*.parquet")), "the Parquet copy was not written"
    places["Parquet copy"] = dump_folder(parquet)
    assert (reports / "dq_report.html").is_file()
    for path in sorted(p for p in reports.rglob("*") if p.is_file()):
        places[f"reports/{path.relative_to(reports)}"] = path.read_text(encoding="utf-8", errors="replace")
    places["webhook posts"] = json.dumps(posts, ensure_ascii=False)
    places["e-mails"] = "\n".join(mail_text(m) for m in mails)
    for command, result in outputs.items():
        places[f"stdout of `warehouse {command}`"] = result.stdout + "\n" + unfolded_tables(result.stdout)
        places[f"stderr of `warehouse {command}`"] = result.stderr + "\n" + unfolded_tables(result.stderr)

    hits: list[Hit] = []
    for place, text in places.items():
        for form in readable(text):
            hits += scanner.in_text(place, form)
    if not target.external:  # an external server's files are not ours to read
        seen_marker = False
        for name, data in server_files(target, database):
            seen_marker = seen_marker or marker.encode() in data
            place = "WAL (pg_wal)" if name.startswith("pg_wal") else "database files (base/<oid>)"
            hits += scanner.in_bytes(place, name, data)
        assert seen_marker, "the marker row is in no file of the database: the byte scan reads the wrong files"
    found = scanner.report(hits)
    assert not found and not not_loaded, (
        f"planted values found in {len({h.place for h in hits})} place(s) (seed {seed}; every planted value "
        f"and kind: {planted}):\n" + "\n".join(found) + f"\ngood files not loaded: {not_loaded}"
    )


def connect_and_fetch(target: Target, database: str, statement: str) -> list[tuple]:
    conn = connect(target.admin(database))
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()
    finally:
        conn.close()
