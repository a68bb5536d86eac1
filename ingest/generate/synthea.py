"""synthea: a Synthea-style CSV export, one file per client per day for five entities.

Headers and value styles are those of Synthea v3's CSV exporter: UUID ids, `...Z` UTC timestamps,
SNOMED encounter and condition codes, RxNorm medications, LOINC observations with one decimal,
numbered names ("Maynard46"), "999-" SSNs, Massachusetts addresses. The people are a population of
their own (Synthea is a separate source), about one for every ten clinic patients.

Every encounter carries the vital-sign panel in Synthea's order, including height (8302-2), weight
(29463-7) and BMI (39156-5) computed from the written height and weight, so BMI checks reproduce it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from ingest.generate import bad_rows as bad
from ingest.generate.body import height_cm, weight_kg
from ingest.generate.geography import MA_TOWNS, STREET_SUFFIXES
from ingest.generate.names import FEMALE_FIRST_NAMES, LAST_NAMES, MALE_FIRST_NAMES
from ingest.generate.people import (
    CHUNK_SIZE,
    CLIENTS,
    Identifiers,
    first_day_of,
    iso_ts,
    random_birth_date,
    synthea_ssn,
)
from ingest.generate.randomness import Rng
from ingest.generate.writers import CsvFile, FileKind, Landing

FEED = "synthea"

PATIENTS_HEADER = (
    "Id", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "PREFIX", "FIRST", "LAST", "SUFFIX",
    "MAIDEN", "MARITAL", "RACE", "ETHNICITY", "GENDER", "BIRTHPLACE", "ADDRESS", "CITY", "STATE", "COUNTY",
    "ZIP", "LAT", "LON", "HEALTHCARE_EXPENSES", "HEALTHCARE_COVERAGE",
)  # fmt: skip
ENCOUNTERS_HEADER = (
    "Id", "START", "STOP", "PATIENT", "ORGANIZATION", "PROVIDER", "PAYER", "ENCOUNTERCLASS", "CODE",
    "DESCRIPTION", "BASE_ENCOUNTER_COST", "TOTAL_CLAIM_COST", "PAYER_COVERAGE", "REASONCODE",
    "REASONDESCRIPTION",
)  # fmt: skip
OBSERVATIONS_HEADER = (
    "DATE",
    "PATIENT",
    "ENCOUNTER",
    "CATEGORY",
    "CODE",
    "DESCRIPTION",
    "VALUE",
    "UNITS",
    "TYPE",
)
MEDICATIONS_HEADER = (
    "START", "STOP", "PATIENT", "PAYER", "ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST", "PAYER_COVERAGE",
    "DISPENSES", "TOTALCOST", "REASONCODE", "REASONDESCRIPTION",
)  # fmt: skip
CONDITIONS_HEADER = ("START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION")

HEADERS: dict[str, tuple[str, ...]] = {
    "patients": PATIENTS_HEADER,
    "encounters": ENCOUNTERS_HEADER,
    "observations": OBSERVATIONS_HEADER,
    "medications": MEDICATIONS_HEADER,
    "conditions": CONDITIONS_HEADER,
}

_SYNTHEA_ID = {"PATIENT": "synthea_id"}
KINDS: dict[str, FileKind] = {
    "patients": FileKind.csv(
        FEED,
        "patients",
        PATIENTS_HEADER,
        pii={
            "Id": "synthea_id",
            "BIRTHDATE": "birth_date",
            "DEATHDATE": "death_date",
            "SSN": "ssn",
            "DRIVERS": "drivers_license",
            "PASSPORT": "passport",
            "FIRST": "first_name",
            "LAST": "last_name",
            "MAIDEN": "last_name",
            "BIRTHPLACE": "birthplace",
            "ADDRESS": "address",
            "ZIP": "zip",
            "LAT": "latitude",
            "LON": "longitude",
        },
    ),
    "encounters": FileKind.csv(FEED, "encounters", ENCOUNTERS_HEADER, pii=_SYNTHEA_ID),
    "observations": FileKind.csv(FEED, "observations", OBSERVATIONS_HEADER, pii=_SYNTHEA_ID),
    "medications": FileKind.csv(FEED, "medications", MEDICATIONS_HEADER, pii=_SYNTHEA_ID),
    "conditions": FileKind.csv(FEED, "conditions", CONDITIONS_HEADER, pii=_SYNTHEA_ID),
}

ENCOUNTER_CLASSES = ("wellness", "ambulatory", "outpatient", "emergency", "inpatient", "urgentcare")
# (class, SNOMED code, description, base cost) as Synthea writes them.
ENCOUNTER_TYPES: tuple[tuple[str, str, str, str], ...] = (
    ("wellness", "162673000", "General examination of patient (procedure)", "129.16"),
    ("wellness", "410620009", "Well child visit (procedure)", "129.16"),
    ("ambulatory", "185345009", "Encounter for symptom", "77.49"),
    ("ambulatory", "185347001", "Encounter for problem", "77.49"),
    ("ambulatory", "390906007", "Follow-up encounter", "77.49"),
    ("ambulatory", "185349003", "Encounter for 'check-up'", "77.49"),
    ("outpatient", "185349003", "Encounter for check up (procedure)", "77.49"),
    ("outpatient", "698314001", "Consultation for treatment", "129.16"),
    ("emergency", "50849002", "Emergency room admission (procedure)", "129.16"),
    ("inpatient", "183452005", "Encounter Inpatient", "77.49"),
    ("urgentcare", "702927004", "Urgent care clinic (procedure)", "129.16"),
)
_TYPE_WEIGHTS = (0.40, 0.0, 0.15, 0.10, 0.10, 0.05, 0.06, 0.04, 0.05, 0.03, 0.02)

# (SNOMED code, description, days until it resolves or None for chronic, RxNorm treatment or None)
CONDITIONS: tuple[tuple[str, str, int | None, tuple[str, str] | None], ...] = (
    ("59621000", "Hypertension", None, ("314076", "lisinopril 10 MG Oral Tablet")),
    ("59621000", "Hypertension", None, ("310798", "Hydrochlorothiazide 25 MG Oral Tablet")),
    ("59621000", "Hypertension", None, ("308136", "amLODIPine 2.5 MG Oral Tablet")),
    ("55822004", "Hyperlipidemia", None, ("314231", "Simvastatin 10 MG Oral Tablet")),
    ("15777000", "Prediabetes", None, None),
    ("162864005", "Body mass index 30+ - obesity (finding)", None, None),
    ("233678006", "Childhood asthma", None,
     ("895994", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler")),
    ("233678006", "Childhood asthma", None,
     ("2123111", "NDA020503 200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler")),
    ("444814009", "Viral sinusitis (disorder)", 14,
     ("562251", "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet")),
    ("195662009", "Acute viral pharyngitis (disorder)", 10, None),
    ("10509002", "Acute bronchitis (disorder)", 14, ("313782", "Acetaminophen 325 MG Oral Tablet")),
    ("40055000", "Chronic sinusitis (disorder)", None, None),
    ("271737000", "Anemia (disorder)", None, ("310325", "ferrous sulfate 325 MG Oral Tablet")),
    ("239872002", "Osteoarthritis of hip", None, ("849574", "Naproxen sodium 220 MG Oral Tablet")),
    ("44465007", "Sprain of ankle", 21, ("198405", "Ibuprofen 100 MG Oral Tablet")),
    ("53741008", "Coronary Heart Disease", None, ("309362", "Clopidogrel 75 MG Oral Tablet")),
    ("82423001", "Chronic pain", None, None),
    ("278860009", "Chronic low back pain (finding)", None, None),
    ("124171000119105", "Chronic intractable migraine without aura", None, None),
    ("232353008", "Perennial allergic rhinitis with seasonal variation", None,
     ("665078", "Loratadine 5 MG Chewable Tablet")),
    ("73595000", "Stress (finding)", 120, None),
    ("160903007", "Full-time employment (finding)", 365, None),
    ("422650009", "Social isolation (finding)", 180, None),
)  # fmt: skip

_RACES = ("white", "black", "asian", "native", "hawaiian", "other")
_RACE_WEIGHTS = (0.72, 0.10, 0.07, 0.01, 0.01, 0.09)
_BODY_PANEL = frozenset({"8302-2", "29463-7", "39156-5"})
SMOKING = ("Never smoker", "Never smoker", "Never smoker", "Former smoker", "Every day smoker")
# (LOINC, description, units, low, high) for a lipid / metabolic panel at some wellness visits.
LABS: tuple[tuple[str, str, str, float, float], ...] = (
    ("2093-3", "Total Cholesterol", "mg/dL", 140, 260),
    ("2571-8", "Triglycerides", "mg/dL", 70, 260),
    ("18262-6", "Low Density Lipoprotein Cholesterol", "mg/dL", 60, 180),
    ("2085-9", "High Density Lipoprotein Cholesterol", "mg/dL", 35, 85),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.6, 8.5),
    ("2339-0", "Glucose", "mg/dL", 68, 160),
)


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(slots=True)
class SyntheaPerson:
    id: str
    client: str
    first_day: int
    sex: str
    birth_date: date
    death_date: date | None
    height_z: float
    bmi_z: float
    organization: str
    provider: str
    payer: str
    row: list[str]

    def age_on(self, day: date) -> float:
        return (day.toordinal() - self.birth_date.toordinal()) / 365.25


def _change_expenses(row: list[str], rng: random.Random) -> None:
    row[23] = str(float(row[23] or 0) + rng.randint(100, 90000) / 100)


def _change_claim(row: list[str], rng: random.Random) -> None:
    row[11] = f"{float(row[10] or 0) + rng.randint(0, 200000) / 100:.2f}"


def _change_value(row: list[str], _rng: random.Random) -> None:
    """A re-sent observation. The value is part of the key (a real export holds distinct readings of
    one code at one moment), so only the wording of the description changes: the copy is the same
    observation, and the loader keeps one and quarantines the other as a conflicting duplicate."""
    restated = row[5].capitalize()
    row[5] = restated if restated != row[5] else row[5].lower()


def _change_dispenses(row: list[str], rng: random.Random) -> None:
    dispenses = rng.randint(1, 24)
    row[9] = str(dispenses)
    row[10] = f"{float(row[7] or 0) * dispenses:.2f}"


def _change_stop(row: list[str], rng: random.Random) -> None:
    row[1] = (date.fromisoformat(row[0]) + timedelta(days=rng.randint(5, 60))).isoformat()


def injectors(seed: int) -> dict[str, bad.Injector]:
    p, e, o = PATIENTS_HEADER.index, ENCOUNTERS_HEADER.index, OBSERVATIONS_HEADER.index
    m, c = MEDICATIONS_HEADER.index, CONDITIONS_HEADER.index
    name = f"{FEED}/"
    return {
        "patients": bad.Injector(
            seed,
            name + "patients",
            [
                bad.bad_date_format(p("BIRTHDATE")),
                bad.future_birth_date(p("BIRTHDATE")),
                bad.missing_required(p("Id"), p("BIRTHDATE"), p("GENDER")),
                bad.duplicate_business_key(_change_expenses),
                bad.formula_injection(p("ADDRESS"), p("CITY")),
                bad.sql_looking(p("LAST"), p("ADDRESS")),
                bad.not_allowed_value(p("GENDER"), ("X?", "male", "U")),
            ],
        ),
        "encounters": bad.Injector(
            seed,
            name + "encounters",
            [
                bad.bad_date_format(e("START")),
                bad.missing_required(e("Id"), e("PATIENT"), e("START")),
                bad.text_in_number(e("BASE_ENCOUNTER_COST")),
                bad.duplicate_business_key(_change_claim),
                bad.formula_injection(e("DESCRIPTION")),
                bad.sql_looking(e("REASONDESCRIPTION"), kept=True),
                bad.not_allowed_value(e("ENCOUNTERCLASS"), ("walk-in", "Wellness", "unknown")),
            ],
        ),
        "observations": bad.Injector(
            seed,
            name + "observations",
            [
                bad.bad_date_format(o("DATE")),
                bad.missing_required(o("PATIENT"), o("CODE"), o("DATE")),
                bad.duplicate_business_key(_change_value),
                bad.not_allowed_value(o("TYPE"), ("num", "NUMERIC", "txt")),
            ],
        ),
        "medications": bad.Injector(
            seed,
            name + "medications",
            [
                bad.bad_date_format(m("START")),
                bad.missing_required(m("PATIENT"), m("CODE"), m("START")),
                bad.text_in_number(m("BASE_COST")),
                bad.duplicate_business_key(_change_dispenses),
            ],
        ),
        "conditions": bad.Injector(
            seed,
            name + "conditions",
            [
                bad.bad_date_format(c("START")),
                bad.missing_required(c("PATIENT"), c("CODE"), c("START")),
                bad.duplicate_business_key(_change_stop),
                bad.formula_injection(c("DESCRIPTION")),
            ],
        ),
    }


class Synthea:
    def __init__(self, seed: int, landing: Landing, dates: Sequence[date]) -> None:
        self.seed = seed
        self.dates = tuple(dates)
        self.ids = Identifiers.for_seed(seed)
        self.files: dict[str, dict[tuple[str, int], CsvFile]] = {
            entity: {
                (client, d): landing.csv_file(kind, client, day)
                for client in CLIENTS
                for d, day in enumerate(self.dates)
            }
            for entity, kind in KINDS.items()
        }
        self.injectors = injectors(seed)
        pools = Rng(f"{seed}:{FEED}:pools")
        self.organizations = tuple(_uuid(pools) for _ in range(24))
        self.providers = tuple(_uuid(pools) for _ in range(60))
        self.payers = tuple(_uuid(pools) for _ in range(9))

    def _emit(self, entity: str, client: str, d: int, row: list[str]) -> None:
        file = self.files[entity][(client, d)]
        duplicate = self.injectors[entity].process(row, file, self.dates[d])
        file.write(row)
        if duplicate is not None:
            file.write_later(duplicate)

    def write_chunk(self, chunk: int, count: int) -> None:
        rng = Rng(f"{self.seed}:{FEED}:people:{chunk}")
        for offset in range(count):
            person = self._person(chunk * CHUNK_SIZE + offset, rng)
            self._history(person, rng)

    def _person(self, index: int, rng: random.Random) -> SyntheaPerson:
        sex = "M" if rng.random() < 0.49 else "F"
        born = random_birth_date(rng)
        client = rng.choice(CLIENTS)
        first_day = first_day_of(rng, len(self.dates))
        today = self.dates[first_day]
        age = (today.toordinal() - born.toordinal()) / 365.25
        died = None
        if rng.random() < 0.03 and age > 5:
            died = date.fromordinal(rng.randint(born.toordinal() + 1000, today.toordinal() - 30))
        adult = age >= 18
        married = adult and rng.random() < 0.5
        last = f"{rng.choice(LAST_NAMES)}{rng.randint(1, 999)}"
        town, county, zips, lat, lon = rng.choice(MA_TOWNS)
        birth_town = rng.choice(MA_TOWNS)[0]
        expenses = rng.randint(1000, 2_000_000) / 100 * (1 + age / 10)
        coverage = rng.randint(0, 300_000) / 100 * 1.5
        row = [
            _uuid(rng),
            born.isoformat(),
            died.isoformat() if died else "",
            synthea_ssn(self.ids, index),
            f"S99{rng.randrange(10**5, 10**6)}" if adult and rng.random() < 0.8 else "",
            f"X{rng.randrange(10**7, 10**8)}X" if adult and rng.random() < 0.7 else "",
            ("Mrs." if married else "Ms.") if adult and sex == "F" else ("Mr." if adult else ""),
            f"{rng.choice(MALE_FIRST_NAMES if sex == 'M' else FEMALE_FIRST_NAMES)}{rng.randint(1, 999)}",
            last,
            "",
            f"{rng.choice(LAST_NAMES)}{rng.randint(1, 999)}" if married and sex == "F" else "",
            ("M" if married else rng.choice(("S", "D", "W", ""))) if adult else "",
            rng.choices(_RACES, _RACE_WEIGHTS)[0],
            "hispanic" if rng.random() < 0.12 else "nonhispanic",
            sex,
            f"{birth_town}  Massachusetts  US",
            f"{rng.randint(1, 1200)} {rng.choice(LAST_NAMES)} {rng.choice(STREET_SUFFIXES)}"
            + (f" {rng.choice(('Unit', 'Apt', 'Suite'))} {rng.randint(1, 99)}" if rng.random() < 0.4 else ""),
            town,
            "Massachusetts",
            county,
            rng.choice(zips) if rng.random() < 0.6 else "",
            repr(lat + rng.gauss(0, 0.03)),
            repr(lon + rng.gauss(0, 0.03)),
            repr(expenses),
            repr(coverage),
        ]
        return SyntheaPerson(
            id=row[0],
            client=client,
            first_day=first_day,
            sex=sex,
            birth_date=born,
            death_date=died,
            height_z=max(min(rng.gauss(0, 1), 3), -3),
            bmi_z=max(min(rng.gauss(0, 1), 3.5), -2.5),
            organization=rng.choice(self.organizations),
            provider=rng.choice(self.providers),
            payer=rng.choice(self.payers),
            row=row,
        )

    def _history(self, person: SyntheaPerson, rng: random.Random) -> None:
        first = person.first_day
        self._emit("patients", person.client, first, person.row.copy())
        last_seen = person.death_date or self.dates[first]
        earliest = max(person.birth_date.toordinal() + 30, last_seen.toordinal() - 3650)
        past = sorted(
            date.fromordinal(rng.randint(earliest, last_seen.toordinal() - 20))
            for _ in range(rng.choice((0, 1, 1, 2, 3)))
            if earliest < last_seen.toordinal() - 20
        )
        if person.death_date is None:
            past.append(self.dates[first])
        for when in past:
            self._encounter(person, first, when, rng)
        if person.death_date is not None:
            return
        for d in range(first + 1, len(self.dates)):
            if rng.random() < 0.1:
                self._encounter(person, d, self.dates[d], rng)
                if rng.random() < 0.5:
                    # Expenses grow with every claim: the re-sent patient row must replace the old one.
                    person.row[23] = repr(float(person.row[23]) + rng.randint(5000, 90000) / 100)
                    self._emit("patients", person.client, d, person.row.copy())

    def _encounter(self, person: SyntheaPerson, d: int, when: date, rng: random.Random) -> None:
        client = person.client
        age = person.age_on(when)
        klass, code, description, base = rng.choices(ENCOUNTER_TYPES, _TYPE_WEIGHTS)[0]
        if klass == "wellness" and age < 18:
            code, description = "410620009", "Well child visit (procedure)"
        seconds = rng.randrange(86400)
        length = 900 if klass not in ("inpatient", "emergency") else rng.randint(3600, 3 * 86400)
        start, stop = iso_ts(when, seconds), iso_ts(when, seconds + length)
        encounter_id = _uuid(rng)
        base_cost = float(base)
        total = base_cost + (rng.randint(0, 400000) / 100 if rng.random() < 0.5 else 0.0)
        reason_code = reason = ""
        diagnoses = []
        if klass != "wellness" and rng.random() < 0.6:
            diagnoses.append(rng.choice(CONDITIONS))
            reason_code, reason = diagnoses[0][0], diagnoses[0][1]
        elif rng.random() < 0.15:
            diagnoses.append(rng.choice(CONDITIONS))
        coverage = f"{total * rng.choice((0.0, 0.0, 0.2, 0.8)):.2f}"
        row = [
            encounter_id,
            start,
            stop,
            person.id,
            person.organization,
            person.provider,
            person.payer,
            klass,
            code,
            description,
            f"{base_cost:.2f}",
            f"{total:.2f}",
            coverage,
            reason_code,
            reason,
        ]
        self._emit("encounters", client, d, row)
        self._vital_signs(person, d, when, start, encounter_id, klass, rng)
        for snomed, text, resolves, treatment in diagnoses:
            stop_date = (when + timedelta(days=resolves)).isoformat() if resolves else ""
            self._emit("conditions", client, d, [when.isoformat(), stop_date, person.id, encounter_id, snomed, text])
            if treatment:
                self._medication(person, d, start, encounter_id, treatment, snomed, text, resolves, rng)

    def _medication(
        self,
        person: SyntheaPerson,
        d: int,
        start: str,
        encounter_id: str,
        treatment: tuple[str, str],
        reason_code: str,
        reason: str,
        resolves: int | None,
        rng: random.Random,
    ) -> None:
        rxnorm, description = treatment
        base = rng.randint(1, 30000) / 100
        dispenses = rng.randint(1, 12) if resolves else rng.randint(12, 400)
        stop = ""
        if resolves:
            stop_day = date.fromisoformat(start[:10]) + timedelta(days=resolves)
            stop = f"{stop_day.isoformat()}{start[10:]}"
        row = [
            start,
            stop,
            person.id,
            person.payer,
            encounter_id,
            rxnorm,
            description,
            f"{base:.2f}",
            "0.00" if rng.random() < 0.8 else f"{base * dispenses * 0.5:.2f}",
            str(dispenses),
            f"{base * dispenses:.2f}",
            reason_code if rng.random() < 0.8 else "",
            "",
        ]
        if row[11]:
            row[12] = reason
        self._emit("medications", person.client, d, row)

    def _vital_signs(
        self,
        person: SyntheaPerson,
        d: int,
        when: date,
        stamp: str,
        encounter_id: str,
        klass: str,
        rng: random.Random,
    ) -> None:
        age = person.age_on(when)
        height = round(height_cm(age, person.sex, person.height_z), 1)
        weight = round(weight_kg(age, person.sex, person.height_z, person.bmi_z) * (1 + rng.gauss(0, 0.01)), 1)
        # BMI from the values as written, with Synthea's one decimal: a BMI check recomputes it exactly.
        body_mass_index = weight / (height / 100) ** 2
        systolic = round(max(min(rng.gauss(116 + max(age - 30, 0) * 0.35, 13), 200), 80))
        diastolic = round(max(min(systolic * 0.64 + rng.gauss(0, 6), 125), 45))
        panel = (
            ("8302-2", "Body Height", f"{height:.1f}", "cm"),
            ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
             f"{rng.choice((0, 0, 1, 1, 2, 3, 4, 6)):.1f}", "{score}"),
            ("29463-7", "Body Weight", f"{weight:.1f}", "kg"),
            ("39156-5", "Body Mass Index", f"{body_mass_index:.1f}", "kg/m2"),
            ("8462-4", "Diastolic Blood Pressure", f"{diastolic:.1f}", "mm[Hg]"),
            ("8480-6", "Systolic Blood Pressure", f"{systolic:.1f}", "mm[Hg]"),
            ("8867-4", "Heart rate", f"{round(max(min(rng.gauss(76, 10), 150), 45)):.1f}", "/min"),
            ("9279-1", "Respiratory rate", f"{round(max(min(rng.gauss(15, 2), 30), 10)):.1f}", "/min"),
        )  # fmt: skip
        client = person.client
        for loinc, description, value, units in panel:
            row = [stamp, person.id, encounter_id, "vital-signs", loinc, description, value, units, "numeric"]
            self._emit("observations", client, d, row)
        if klass != "wellness":
            return
        if age >= 18:
            row = [stamp, person.id, encounter_id, "survey", "72166-2", "Tobacco smoking status NHIS",
                   rng.choice(SMOKING), "", "text"]  # fmt: skip
            self._emit("observations", client, d, row)
        if age >= 18 and rng.random() < 0.3:
            for loinc, description, units, low, high in LABS:
                value = f"{rng.uniform(low, high):.1f}"
                row = [
                    stamp,
                    person.id,
                    encounter_id,
                    "laboratory",
                    loinc,
                    description,
                    value,
                    units,
                    "numeric",
                ]
                self._emit("observations", client, d, row)
