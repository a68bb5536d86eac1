"""clinic_emr: a clinic's EHR extract, one CSV per client per day for each of five entities.

The clinic knows people by MRN and, usually, SSN. Later days re-send patients whose details changed
(phone, e-mail, a move, a last-name change, sex recoded), so the merge on patient_id has work to do.
Measurements follow the body model in `body.py`, so a person's height is steady and weight drifts a
little, in cm/kg or, for some encounters, in inches/pounds.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta

from ingest.generate import bad_rows as bad
from ingest.generate.body import CM_PER_INCH, LB_PER_KG, height_cm, weight_kg
from ingest.generate.fda_ndc import DOSE_TEXTS, Catalogue
from ingest.generate.people import (
    CLIENTS,
    Person,
    format_phone,
    iso_ts,
    later_ts,
    random_email,
    random_phone,
    random_zip,
)
from ingest.generate.randomness import Rng, Weighted, normal
from ingest.generate.writers import CsvFile, FileKind, Landing

FEED = "clinic_emr"

PATIENTS_HEADER = (
    "patient_id", "first_name", "last_name", "birth_date", "sex", "ssn", "zip", "phone", "email", "consent",
    "updated_at",
)  # fmt: skip
ENCOUNTERS_HEADER = ("encounter_id", "patient_id", "encounter_date", "encounter_type", "site_id", "reason")
OBSERVATIONS_HEADER = (
    "observation_id", "patient_id", "encounter_id", "observed_at", "code_system", "code", "value", "unit",
)  # fmt: skip
MEDICATIONS_HEADER = (
    "medication_id", "patient_id", "encounter_id", "ndc_code", "start_date", "end_date", "dose_text",
)  # fmt: skip
CONDITIONS_HEADER = ("condition_id", "patient_id", "encounter_id", "icd10_code", "onset_date")

HEADERS: dict[str, tuple[str, ...]] = {
    "patients": PATIENTS_HEADER,
    "encounters": ENCOUNTERS_HEADER,
    "observations": OBSERVATIONS_HEADER,
    "medications": MEDICATIONS_HEADER,
    "conditions": CONDITIONS_HEADER,
}

KINDS: dict[str, FileKind] = {
    "patients": FileKind.csv(
        FEED,
        "patients",
        PATIENTS_HEADER,
        pii={
            "patient_id": "mrn",
            "first_name": "first_name",
            "last_name": "last_name",
            "birth_date": "birth_date",
            "ssn": "ssn",
            "zip": "zip",
            "phone": "phone",
            "email": "email",
        },
    ),
    "encounters": FileKind.csv(FEED, "encounters", ENCOUNTERS_HEADER, pii={"patient_id": "mrn"}),
    "observations": FileKind.csv(FEED, "observations", OBSERVATIONS_HEADER, pii={"patient_id": "mrn"}),
    "medications": FileKind.csv(FEED, "medications", MEDICATIONS_HEADER, pii={"patient_id": "mrn"}),
    "conditions": FileKind.csv(FEED, "conditions", CONDITIONS_HEADER, pii={"patient_id": "mrn"}),
}

ENCOUNTER_TYPES = ("ambulatory", "emergency", "inpatient", "telehealth")
_ENCOUNTER_TYPES = Weighted(ENCOUNTER_TYPES, (0.62, 0.13, 0.08, 0.17))
SITES = ("S01", "S02", "S03", "S04", "S05")
UNLISTED_SITE = "S99"  # not in the clinic's site list: the loader's whitelist drops these rows

# (LOINC, the clinic's local code) per vital sign; about 10 % of encounters use the local codes.
HEIGHT = ("8302-2", "HT")
WEIGHT = ("29463-7", "WT")
SYSTOLIC = ("8480-6", "SBP")
DIASTOLIC = ("8462-4", "DBP")
HEART_RATE = ("8867-4", "HR")
HEIGHT_CODES = frozenset(HEIGHT)
# Local codes no terminology map knows: valid rows that the refined layer must leave unmapped.
UNMAPPABLE = (("XYZ1", "/min"), ("XYZ2", "mm[Hg]"), ("QQ9", "/min"))
UNITS = ("cm", "[in_i]", "kg", "[lb_av]", "mm[Hg]", "/min")

# (ICD-10-CM code, a generic drug that treats it or None); medications follow the diagnoses.
CONDITIONS: tuple[tuple[str, str | None], ...] = (
    ("I10", "Lisinopril"), ("I10", "Amlodipine Besylate"), ("I10", "Hydrochlorothiazide"),
    ("I10", "Losartan Potassium"), ("E11.9", "Metformin Hydrochloride"), ("E11.65", "Glipizide"),
    ("E11.9", "Insulin Glargine"), ("E78.5", "Atorvastatin Calcium"), ("E78.00", "Simvastatin"),
    ("J45.909", "Albuterol Sulfate"), ("J45.40", "Montelukast Sodium"), ("E66.9", None), ("E66.01", None),
    ("F32.9", "Sertraline Hydrochloride"), ("F41.1", "Escitalopram Oxalate"),
    ("F33.1", "Bupropion Hydrochloride"),
    ("F41.0", "Alprazolam"), ("K21.9", "Omeprazole"), ("K21.0", "Pantoprazole Sodium"),
    ("E03.9", "Levothyroxine Sodium"), ("M54.50", "Cyclobenzaprine Hydrochloride"), ("J06.9", None),
    ("N39.0", "Cephalexin"), ("G43.909", "Sumatriptan"), ("I48.91", "Apixaban"),
    ("I48.91", "Warfarin Sodium"),
    ("I25.10", "Clopidogrel"), ("J44.9", "Fluticasone Propionate"), ("E55.9", "Ergocalciferol"),
    ("D50.9", "Ferrous Sulfate"), ("M10.9", "Allopurinol"), ("N40.0", "Tamsulosin Hydrochloride"),
    ("J30.9", "Loratadine"), ("J30.2", "Cetirizine Hydrochloride"), ("M17.11", "Ibuprofen"), ("Z00.00", None),
    ("G47.33", None), ("R73.03", None), ("L20.9", "Hydrocortisone"), ("J02.9", "Amoxicillin"),
    ("J01.90", "Azithromycin"), ("F17.210", "Nicotine Polacrilex"), ("I50.9", "Furosemide"),
    ("G89.29", "Oxycodone and Acetaminophen"), ("M79.7", "Tramadol Hydrochloride"), ("G40.909", "Gabapentin"),
    ("K30", "Famotidine"), ("M25.561", "Acetaminophen"), ("T78.40XA", "Prednisone"),
)  # fmt: skip

REASONS: tuple[str, ...] = (
    "annual check-up", "follow-up for hypertension", "dizziness", "persistent cough", "medication review",
    "chest pain", "shortness of breath", "lower back pain", "fever and sore throat", "diabetes follow-up",
    "rash on forearm", "headache for three days", "fall at home", "abdominal pain", "flu vaccination",
    "anxiety", "knee pain after running", "blood pressure check", "ear pain", "urinary symptoms",
    "well-child visit", "wound check", "fatigue", "palpitations", "asthma follow-up", "lab results review",
    "sinus congestion", "sprained ankle", "insomnia", "weight management", "pre-operative assessment",
)  # fmt: skip


def _bump_updated_at(row: list[str], rng: random.Random) -> None:
    # Same patient twice in one file: a correction made an hour or so later that must win.
    row[8] = row[8].upper() if row[8] else row[8]
    row[6] = random_zip(rng)
    row[10] = later_ts(row[10], rng.randint(5, 180))


def _amend_reason(row: list[str], rng: random.Random) -> None:
    row[5] = f"{rng.choice(REASONS)} (amended)"


def _correct_value(row: list[str], rng: random.Random) -> None:
    try:
        row[6] = f"{float(row[6]) + rng.choice((-1, 1)) * rng.randint(1, 15) / 10:.1f}"
    except ValueError:
        row[6] = "0.0"


def _stop_medication(row: list[str], rng: random.Random) -> None:
    start = date.fromisoformat(row[4])
    row[5] = (start + timedelta(days=rng.choice((7, 14, 30)))).isoformat()
    row[6] = f"{row[6]} (changed)"


def _move_onset(row: list[str], rng: random.Random) -> None:
    row[4] = (date.fromisoformat(row[4]) - timedelta(days=rng.randint(1, 400))).isoformat()


def injectors(seed: int) -> dict[str, bad.Injector]:
    p, e, o = PATIENTS_HEADER.index, ENCOUNTERS_HEADER.index, OBSERVATIONS_HEADER.index
    m, c = MEDICATIONS_HEADER.index, CONDITIONS_HEADER.index
    unit_suffix = {"kg": "kg", "[lb_av]": "lb", "cm": "cm", "[in_i]": "in"}
    name = f"{FEED}/"
    return {
        "patients": bad.Injector(
            seed,
            name + "patients",
            [
                bad.bad_date_format(p("birth_date")),
                bad.future_birth_date(p("birth_date")),
                bad.missing_required(p("patient_id"), p("last_name"), p("birth_date")),
                bad.duplicate_business_key(_bump_updated_at),
                bad.formula_injection(p("first_name"), p("last_name")),
                bad.sql_looking(p("last_name"), p("first_name")),
                bad.not_allowed_value(p("sex"), ("X?", "male", "2", "f ")),
            ],
        ),
        "encounters": bad.Injector(
            seed,
            name + "encounters",
            [
                bad.bad_date_format(e("encounter_date")),
                bad.missing_required(e("encounter_id"), e("patient_id"), e("encounter_date")),
                bad.duplicate_business_key(_amend_reason),
                bad.formula_injection(e("reason")),
                bad.sql_looking(e("reason"), kept=True),
                bad.pii_in_free_column(e("reason")),
                bad.not_allowed_value(e("encounter_type"), ("walk-in", "Ambulatory", "home visit", "ER")),
            ],
        ),
        "observations": bad.Injector(
            seed,
            name + "observations",
            [
                bad.bad_date_format(o("observed_at")),
                bad.negative_height(o("value"), o("code"), HEIGHT_CODES),
                bad.text_in_number(o("value"), lambda row: unit_suffix.get(row[7], "")),
                bad.missing_required(o("observation_id"), o("patient_id"), o("value")),
                bad.duplicate_business_key(_correct_value),
                bad.not_allowed_value(o("unit"), ("lbs", "pounds", "inches", "Kg")),
            ],
        ),
        "medications": bad.Injector(
            seed,
            name + "medications",
            [
                bad.bad_date_format(m("start_date")),
                bad.missing_required(m("medication_id"), m("patient_id"), m("ndc_code")),
                bad.duplicate_business_key(_stop_medication),
                bad.pii_in_free_column(m("dose_text"), with_name=False),
                bad.formula_injection(m("dose_text")),
                bad.sql_looking(m("dose_text"), kept=True),
            ],
        ),
        "conditions": bad.Injector(
            seed,
            name + "conditions",
            [
                bad.bad_date_format(c("onset_date")),
                bad.missing_required(c("condition_id"), c("patient_id"), c("icd10_code")),
                bad.duplicate_business_key(_move_onset),
            ],
        ),
    }


class _PatientState:
    """What the clinic currently holds for a person; updates on later days change it."""

    __slots__ = ("consent", "email", "last_name", "phone", "sex", "ssn", "zip")

    def __init__(self, person: Person, rng: random.Random) -> None:
        self.sex = "U" if rng.random() < 0.015 else person.sex
        self.consent = "N" if rng.random() < 0.03 else "Y"
        self.ssn = "" if rng.random() < 0.03 else person.ssn
        self.zip = person.zip
        self.phone = person.phone_as_written()
        self.email = person.email
        self.last_name = person.last_name

    def change(self, person: Person, rng: random.Random) -> None:
        what = rng.randrange(5)
        if what == 0:
            self.phone = format_phone(random_phone(rng), person.phone_style)
        elif what == 1:
            self.email = random_email(rng, person.first_name, self.last_name)
        elif what == 2:
            self.zip = random_zip(rng)
        elif what == 3:
            # Recoded sex: unknown at registration and filled in later, or the other way round.
            self.sex = person.sex if self.sex == "U" else "U"
        else:
            self.last_name = f"{self.last_name}-{rng.choice(('Smith', 'Garcia', 'Nguyen', 'Okafor'))}"


class ClinicEmr:
    def __init__(self, seed: int, landing: Landing, dates: Sequence[date], catalogue: Catalogue) -> None:
        self.seed = seed
        self.dates = tuple(dates)
        self.catalogue = catalogue
        self.files: dict[str, dict[tuple[str, int], CsvFile]] = {
            entity: {
                (client, d): landing.csv_file(kind, client, day)
                for client in CLIENTS
                for d, day in enumerate(self.dates)
            }
            for entity, kind in KINDS.items()
        }
        self.injectors = injectors(seed)
        self.filtered = {"consent_n": 0, "unlisted_site": 0}
        self._next = {"encounter": 0, "observation": 0, "medication": 0, "condition": 0}

    def _id(self, what: str, prefix: str, width: int) -> str:
        # Sequential ids are deterministic because people are always processed in the same order.
        self._next[what] += 1
        return f"{prefix}{self._next[what]:0{width}d}"

    def write_chunk(self, people: Sequence[Person], chunk: int) -> None:
        rng = Rng(f"{self.seed}:{FEED}:{chunk}")
        for person in people:
            if person.in_clinic:
                self._person(person, rng)

    def _emit(self, entity: str, client: str, d: int, row: list[str], person: Person) -> None:
        file = self.files[entity][(client, d)]
        duplicate = self.injectors[entity].process(row, file, self.dates[d], person)
        file.write(row)
        if duplicate is not None:
            file.write_later(duplicate)

    def _person(self, person: Person, rng: random.Random) -> None:
        state = _PatientState(person, rng)
        imperial = rng.random() < 0.15  # this person's clinic usually records inches and pounds
        for d in range(person.first_day, len(self.dates)):
            day = self.dates[d]
            if d == person.first_day:
                updated = iso_ts(day - timedelta(days=rng.randint(1, 400)), rng.randrange(86400))
            elif rng.random() < 0.04:
                state.change(person, rng)
                updated = iso_ts(day - timedelta(days=1), rng.randrange(86400))
            else:
                updated = ""
            if updated:
                row = [
                    person.mrn,
                    person.first_name,
                    state.last_name,
                    person.birth_date.isoformat(),
                    state.sex,
                    state.ssn,
                    state.zip,
                    state.phone,
                    state.email,
                    state.consent,
                    updated,
                ]
                if state.consent == "N":
                    self.filtered["consent_n"] += 1
                self._emit("patients", person.client, d, row, person)
            if d == person.first_day:
                visits = 1 + (rng.random() < 0.17) + (rng.random() < 0.03)
            else:
                visits = int(rng.random() < 0.12)
            for _ in range(visits):
                self._encounter(person, d, rng, imperial)

    def _encounter(self, person: Person, d: int, rng: random.Random, imperial: bool) -> None:
        client, file_day = person.client, self.dates[d]
        # Most encounters are documented the same day; some a few days late.
        when = file_day if rng.random() < 0.88 else file_day - timedelta(days=rng.randint(1, 3))
        when = max(when, person.birth_date)
        kind = _ENCOUNTER_TYPES.pick(rng)
        start = rng.randrange(86400) if kind == "emergency" else rng.randrange(7 * 3600, 19 * 3600)
        site = UNLISTED_SITE if rng.random() < 0.01 else rng.choice(SITES)
        if site == UNLISTED_SITE:
            self.filtered["unlisted_site"] += 1
        encounter_id = self._id("encounter", "ENC", 10)
        reason = rng.choice(REASONS) if rng.random() < 0.95 else ""
        self._emit("encounters", client, d, [encounter_id, person.mrn, when.isoformat(), kind, site, reason], person)
        self._observations(person, d, rng, imperial, encounter_id, when, start, kind)
        diagnoses = [rng.choice(CONDITIONS) for _ in range(rng.choice((0, 0, 0, 1, 1, 1, 2)))]
        for icd10, _drug in diagnoses:
            onset = when if rng.random() < 0.6 else max(person.birth_date, when - timedelta(days=rng.randint(30, 3650)))
            row = [self._id("condition", "DX", 10), person.mrn, encounter_id, icd10, onset.isoformat()]
            self._emit("conditions", client, d, row, person)
        treated = [drug for _icd, drug in diagnoses if drug]
        for _ in range(rng.choice((0, 0, 1, 1, 1, 2))):
            generic = rng.choice(treated) if treated and rng.random() < 0.8 else None
            ndc = self.catalogue.pick(rng, generic)
            end = "" if rng.random() < 0.4 else (when + timedelta(days=rng.choice((10, 30, 90, 180)))).isoformat()
            row = [
                self._id("medication", "RX", 10),
                person.mrn,
                encounter_id,
                ndc,
                when.isoformat(),
                end,
                rng.choice(DOSE_TEXTS),
            ]
            self._emit("medications", client, d, row, person)

    def _observations(
        self,
        person: Person,
        d: int,
        rng: random.Random,
        imperial: bool,
        encounter_id: str,
        when: date,
        start: int,
        kind: str,
    ) -> None:
        uniform = rng.random
        local = uniform() < 0.10
        # Occasionally the other unit system: the same person then has both kg and lb weights.
        in_imperial = imperial != (rng.random() < 0.05)
        age = person.age_on(when)
        measured: list[tuple[tuple[str, str], str, str]] = []
        if kind != "telehealth" and rng.random() < 0.7:
            height = height_cm(age, person.sex, person.height_z) + 0.3 * normal(uniform)
            if in_imperial:
                measured.append((HEIGHT, f"{height / CM_PER_INCH:.1f}", "[in_i]"))
            else:
                measured.append((HEIGHT, f"{height:.1f}", "cm"))
        if rng.random() < 0.9:
            weight = weight_kg(age, person.sex, person.height_z, person.bmi_z) * (1 + 0.012 * normal(uniform))
            if in_imperial:
                measured.append((WEIGHT, f"{weight * LB_PER_KG:.1f}", "[lb_av]"))
            else:
                measured.append((WEIGHT, f"{weight:.1f}", "kg"))
        if kind != "telehealth" and rng.random() < 0.85:
            systolic = max(min(118 + max(age - 30, 0) * 0.35 + 14 * normal(uniform), 210), 78)
            diastolic = max(min(systolic * 0.64 + 6 * normal(uniform), 130), 40)
            measured.append((SYSTOLIC, str(round(systolic)), "mm[Hg]"))
            measured.append((DIASTOLIC, str(round(diastolic)), "mm[Hg]"))
        if rng.random() < 0.85:
            resting = 100 if age < 6 else 74
            measured.append((HEART_RATE, str(round(max(min(resting + 11 * normal(uniform), 180), 38))), "/min"))
        for offset, (codes, value, unit) in enumerate(measured):
            row = [
                self._id("observation", "OBS", 12),
                person.mrn,
                encounter_id,
                iso_ts(when, start + 60 * (offset + 1)),
                "LOCAL" if local else "LOINC",
                codes[1] if local else codes[0],
                value,
                unit,
            ]
            self._emit("observations", person.client, d, row, person)
        if rng.random() < 0.02:
            code, unit = rng.choice(UNMAPPABLE)
            value = str(rng.randint(12, 30) if unit == "/min" else rng.randint(60, 140))
            row = [
                self._id("observation", "OBS", 12),
                person.mrn,
                encounter_id,
                iso_ts(when, start + 600),
                "LOCAL",
                code,
                value,
                unit,
            ]
            self._emit("observations", person.client, d, row, person)
