"""Build the labelled PII corpus (`pii_corpus.jsonl`, `known_names.txt`) from the templates below.

Deterministic (one seed): `python -m ingest.pii.corpus.generate` rewrites the same files. Every
string, name and value list here was written for this corpus.

Each line of `pii_corpus.jsonl`: {"id", "kind": "pii" | "clean", "text", "spans": [{"start", "end",
"class"}], "own_names": [given, surname] | null}. Offsets are code points of `text`. Classes:
email, phone, ssn, nhs_number, card_number, date_of_birth (any written date), name. A name is
annotated word by word (a compound like "Obrien-Smith" is one word), without its honorific: the
honorific is not PII, and a redaction of "Cruz" in "Mrs Cruz" is the whole of what must go.

`own_names` is the row's own name (the loader's name columns of the same record); `known_names.txt`
is the roster of patients and relatives the loader has seen before (learnt into `KnownNames`).
Clinicians are in neither: they are mentioned after an honorific ("Dr Okafor"), as in real notes.
Names are findable by design only in those three ways, and the corpus writes them only so.

Phone numbers are drawn from each country's numbering plan (a valid area or mobile prefix and
length); US and UK numbers also from the fictional ranges (555-01xx, Ofcom's drama numbers) that
test data uses. Identifiers carry correct check digits; dates are real calendar dates.
"""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "pii_corpus.jsonl"
KNOWN_NAMES = HERE / "known_names.txt"
SEED = 20261207

GIVEN_F = [
    "Maria", "Zoë", "Chloé", "Renée", "Anna", "Aoife", "Siobhán", "Fatima", "Priya", "Mei", "Olga", "Ines",
    "Agnieszka", "Łucja", "Björk", "Søs", "Amara", "Yuki", "Camille", "Hélène", "Noor", "Leila", "Grainne",
    "Beatriz", "Dolores", "Marguerite", "Ngozi", "Esperanza", "Kateřina", "Annelise",
]  # fmt: skip
GIVEN_M = [
    "José", "Søren", "Łukasz", "François", "Jürgen", "Owen", "Tomás", "Rahul", "Wei", "Kwame", "Dmitri",
    "Ahmed", "Mateo", "Niall", "Henrik", "Émile", "Bartholomew", "Tariq", "Oluwaseun", "Jean-Paul", "Anders",
    "Călin", "Nikolai", "Thandiwe", "Desmond", "Ignacio", "Rory", "Eoin", "Mohammed", "Anselm",
]  # fmt: skip
SURNAMES = [
    "Cruz", "Ångström", "O'Brien", "Obrien-Smith", "Müller", "Nuñez", "Wu", "Ng", "Xu", "Yu", "Okafor",
    "D'Angelo", "Smith-Jones", "Kowalczyk", "Fernández", "Brontë", "Øverby", "Nakamura", "Haddad", "Gallagher",
    "Mbeki", "Petrović", "Lindqvist", "Papadopoulos", "Delacroix", "MacLeod", "Van Buren", "Achterberg",
    "Rodríguez-Ortiz", "Kahananui", "Szymańska", "Quispe", "Abernathy", "Thorsdottir", "Iyer", "Castellanos",
    "Featherstonehaugh", "Ó Súilleabháin", "Dvořák", "Ferreira", "Kim", "Park", "Haugen", "Zielinski",
]  # fmt: skip
CLINICIANS = ["Okonkwo", "Patel", "Hargreaves", "Lindgren", "Bauer", "Moreau", "Tanaka", "Adeyemi", "Whitfield",
              "Kaur", "Soto", "Brennan"]  # fmt: skip
DOMAINS = ["example.com", "mail.example.org", "exämple.se", "correo.example.es", "müller-familie.de",
           "nhs.example.net", "posteo.example", "hospital.example.co.uk",
           "寿司.example.jp", "xn--exmple-cua.se"]  # fmt: skip

# Drugs, doses, labs and codes for the clean strings (and as filler around PII).
DRUGS = ["metformin 500 mg PO BID", "lisinopril 10 mg daily", "atorvastatin 40 mg nocte", "amoxicillin 500 mg TDS",
         "apixaban 5 mg BID", "insulin glargine 22 units SC nightly", "salbutamol 100 mcg 2 puffs PRN",
         "prednisolone 30 mg OD x 5 days", "furosemide 40 mg IV stat", "levothyroxine 75 mcg",
         "sertraline 50 mg", "omeprazole 20 mg", "paracetamol 1 g QDS", "ceftriaxone 2 g IV q24h",
         "enoxaparin 40 mg SC", "morphine 2.5-5 mg PO q4h PRN", "vancomycin 1.25 g IV q12h",
         "lithium carbonate 400 mg", "warfarin 3 mg (INR target 2-3)", "ondansetron 4 mg IV"]  # fmt: skip
LABS = ["Hb 13.2 g/dL", "WBC 11.4 x10^9/L", "PLT 245", "Na 138 mmol/L", "K 4.1 mmol/L", "Cr 92 umol/L",
        "eGFR 68 mL/min/1.73m2", "HbA1c 58 mmol/mol (7.5%)", "CRP 34 mg/L", "INR 2.4", "TSH 3.1 mU/L",
        "troponin I 0.02 ng/mL", "BP 132/84", "HR 88", "SpO2 96% on RA", "RR 18", "T 37.8 C", "BMI 31.2",
        "LDL 2.9 mmol/L", "ALT 41 U/L", "lactate 1.9", "pH 7.36", "glucose 8.4 mmol/L", "Mg 0.78"]  # fmt: skip
ICD10 = ["E11.9", "I10", "J45.909", "N18.3", "I48.91", "F32.1", "M54.5", "K21.9", "J18.9", "Z79.4", "E78.5",
         "I25.10", "C50.911", "O24.419", "S72.001A"]  # fmt: skip
LOINC = ["2345-7", "4548-4", "718-7", "2160-0", "33914-3", "8480-6", "8462-4", "2093-3", "13457-7", "6690-2"]
SNOMED = ["44054006", "38341003", "195967001", "73211009", "22298006", "233604007", "49436004", "35489007",
          "414545008", "840539006"]  # fmt: skip
NDC = ["0002-1433-80", "0069-0152-01", "50090-3431-0", "0173-0682-20", "68180-513-01", "0378-1805-10"]
CPT = ["99213", "99285", "93000", "71046", "80053", "36415", "J1100", "G0008"]
URLS = ['xmlns="http://hl7.org/fhir"', 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
        "https://hl7.org/fhir/R4/patient.html", "http://loinc.org", "http://snomed.info/sct",
        'system="urn:oid:2.16.840.1.113883.6.1"', '<code value="E11.9" system="http://hl7.org/fhir/sid/icd-10"/>',
        "https://www.nice.org.uk/guidance/ng28", 'xmlns:v3="urn:hl7-org:v3"',
        'href="https://fhir.example.org/Observation/obs-000917"']  # fmt: skip
WARDS = ["ward 7B", "ICU bed 12", "ED cubicle 4", "day unit", "cardiology clinic", "theatre 3", "resus",
         "AMU", "renal unit", "maternity triage"]  # fmt: skip


def _uuid(rng: random.Random) -> str:
    # Digit-heavy UUIDs, the kind whose digits can pass Luhn by chance (one in ten).
    def group(n: int) -> str:
        return "".join(rng.choice("0123456789" * 3 + "abcdef") for _ in range(n))

    return "-".join(group(n) for n in (8, 4, 4, 4, 12))


def fda_product_id(rng: random.Random) -> str:
    labeler, product = rng.choice(NDC).split("-")[:2]
    return f"{labeler}-{product}_{_uuid(rng)}"


def record_id(rng: random.Random) -> str:
    prefix = rng.choice(["ENC", "OBS", "ADM", "LAB", "ORD", "EPI", "RX"])
    return f"{prefix}{rng.randrange(10**10):010d}"


# --- PII values ---------------------------------------------------------------------------------


def luhn_complete(stem: str) -> str:
    total = 0
    for position, char in enumerate(reversed(stem + "0")):
        d = int(char)
        if position % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return stem + str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    kind = rng.choice(["visa", "mc", "mc2", "amex", "discover"])
    if kind == "amex":
        digits = luhn_complete(rng.choice(["34", "37"]) + "".join(rng.choice("0123456789") for _ in range(12)))
        sep = rng.choice([" ", "-", ""])
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    prefix = {"visa": "4", "mc": str(rng.randint(51, 55)), "mc2": str(rng.randint(2221, 2720)), "discover": "6011"}
    stem = prefix[kind]
    digits = luhn_complete(stem + "".join(rng.choice("0123456789") for _ in range(15 - len(stem))))
    sep = rng.choice([" ", "-", "", " "])
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


def nhs_number(rng: random.Random) -> str:
    while True:
        stem = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
        check = (11 - sum(d * w for d, w in zip(stem, range(10, 1, -1), strict=True)) % 11) % 11
        if check != 10:
            digits = "".join(map(str, stem)) + str(check)
            sep = rng.choice([" ", "-", "", " "])
            return sep.join((digits[:3], digits[3:6], digits[6:]))


def ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    sep = rng.choice(["-", "-", " ", "."])
    return f"{area:03d}{sep}{rng.randint(1, 99):02d}{sep}{rng.randint(1, 9999):04d}"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def phone(rng: random.Random) -> str:
    kind = rng.choice(["us", "us", "us_fiction", "uk", "uk", "uk_fiction", "intl", "intl", "intl"])
    if kind == "us":
        area, exchange, line = rng.choice(US_AREAS), f"{rng.randint(2, 9)}{_digits(rng, 2)}", _digits(rng, 4)
        fmt = rng.choice(
            ["({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "+1 {a} {e} {l}", "1-{a}-{e}-{l}", "+1-{a}-{e}-{l}"]
        )
        return fmt.format(a=area, e=exchange, l=line)
    if kind == "us_fiction":
        return _us_fiction(rng)
    if kind == "uk":
        fmt = rng.choice(["+44 20 7{a} {b}", "020 7{a} {b}", "+44 7911 {c}", "07911 {c}", "+44 (0)161 {d} {e}",
                          "0161 {d} {e}", "+44 113 {d} {e}"])  # fmt: skip
        return fmt.format(
            a=_digits(rng, 3),
            b=_digits(rng, 4),
            c=_digits(rng, 6),
            d=f"{rng.randint(2, 9)}{_digits(rng, 2)}",
            e=_digits(rng, 4),
        )
    if kind == "uk_fiction":
        return rng.choice(["07700 900{0}", "020 7946 0{0}", "0113 496 0{0}", "+44 7700 900{0}"]).format(_digits(rng, 3))
    fmt = rng.choice([
        "+33 1 {p2} {p2} {p2} {p2}", "+33 6 {p2} {p2} {p2} {p2}", "+49 30 {p4} {p4}", "+34 91{p1} {p3} {p3}",
        "+39 06 {p4} {p4}", "+81 3-5{p3}-{p4}", "+61 2 9{p3} {p4}", "+91 98{p3} {p5}", "+55 11 9{p4}-{p4}",
        "+353 1 {p3} {p4}", "+31 20 {p3} {p4}", "+46 8 {p3} {p3} {p2}", "+41 44 {p3} {p2} {p2}",
        "+48 22 {p3} {p2} {p2}",
    ])  # fmt: skip
    out = fmt
    for key, n in (("{p1}", 1), ("{p2}", 2), ("{p3}", 3), ("{p4}", 4), ("{p5}", 5)):
        while key in out:
            out = out.replace(key, _digits(rng, n), 1)
    return out


def _us_fiction(rng: random.Random) -> str:
    # 555-0100..0199 in any area code: the range North America keeps for fiction.
    fmt = rng.choice(["({a}) 555-01{x}", "{a}-555-01{x}", "+1 {a} 555 01{x}"])
    return fmt.format(a=rng.choice(US_AREAS), x=f"{rng.randint(0, 99):02d}")


US_AREAS = ["212", "312", "415", "617", "713", "206", "303", "404", "305", "602", "503", "512", "919", "614"]


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]  # fmt: skip


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def written_date(rng: random.Random, when: date) -> str:
    d, m, y = when.day, when.month, when.year
    month = MONTHS[m - 1]
    clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    forms = [
        f"{y:04d}-{m:02d}-{d:02d}", f"{y:04d}-{m:02d}-{d:02d}T00:00", f"{y:04d}-{m:02d}-{d:02d}T{clock}:00Z",

        f"{d} {month[:3]} {y}", f"{d} {month} {y}", f"{_ordinal(d)} {month} {y}", f"{month} {d}, {y}",
        f"{month[:3]} {d}, {y}", f"{month[:3]}. {d} {y}", f"{d:02d}.{m:02d}.{y}", f"{d:02d}/{m:02d}/{y}",
        f"{m}/{d}/{y}", f"{d:02d}-{month[:3].upper()}-{y}", f"{d:02d}-{month[:3]}-{y}", f"{y}/{m:02d}/{d:02d}",
        f"{m}/{d}/{y % 100:02d}", f"{d}-{month[:3]}-{y % 100:02d}",
    ]  # fmt: skip
    return rng.choice(forms)


def birth_date(rng: random.Random) -> date:
    return date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 80))


def event_date(rng: random.Random) -> date:
    return date(2015, 1, 1) + timedelta(days=rng.randrange(365 * 11))


# --- records ------------------------------------------------------------------------------------


@dataclass
class Person:
    given: str
    surname: str
    female: bool


@dataclass
class Builder:
    """A text built piece by piece, with the spans of the PII pieces."""

    parts: list[str] = field(default_factory=list)
    spans: list[dict] = field(default_factory=list)
    length: int = 0

    def add(self, text: str, cls: str | None = None) -> None:
        if cls:
            self.spans.append({"start": self.length, "end": self.length + len(text), "class": cls})
        self.parts.append(text)
        self.length += len(text)

    def words(self, name: str) -> None:
        """A name of one or more words: each word its own span, the separators not."""
        for i, word in enumerate(name.split(" ")):
            if i:
                self.add(" ")
            self.add(word, "name")


def _fold_ascii(text: str) -> str:
    table = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "æ": "ae"})
    decomposed = unicodedata.normalize("NFKD", text.translate(table))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def mention(b: Builder, p: Person, rng: random.Random, *, own: bool) -> None:
    """The person named in one of the ways notes name people."""
    forms = ["full", "rev", "hon", "given", "upper", "folded", "nfd", "hon_upper", "surname_hon_given"]
    form = rng.choice(forms)
    honorific = rng.choice(["Mrs", "Ms", "Mrs.", "Miss", "Ms."]) if p.female else rng.choice(["Mr", "Mr."])
    if form == "full":
        b.words(p.given), b.add(" "), b.words(p.surname)
    elif form == "rev":
        b.words(p.surname), b.add(", "), b.words(p.given)
    elif form == "hon":
        b.add(honorific + " "), b.words(p.surname)
    elif form == "hon_upper":
        b.add(honorific.upper() + " "), b.words(p.surname.upper())
    elif form == "surname_hon_given":
        b.words(p.surname.upper()), b.add(", "), b.words(p.given)
    elif form == "given":
        b.words(p.given)
    elif form == "upper":
        b.words(p.given.upper()), b.add(" "), b.words(p.surname.upper())
    elif form == "folded":
        b.words(_fold_ascii(p.given)), b.add(" "), b.words(_fold_ascii(p.surname))
    else:
        b.words(unicodedata.normalize("NFD", p.given)), b.add(" "), b.words(unicodedata.normalize("NFD", p.surname))


def email(rng: random.Random, p: Person) -> str:
    local = rng.choice(["{g}.{s}", "{g}{n}", "{i}{s}", "{s}.{g}", "{g}_{s}{n}"]).format(
        g=p.given.lower().replace(" ", ""), s=p.surname.lower().replace(" ", "").replace("'", ""),
        i=p.given[0].lower(), n=rng.randint(1, 99),
    )  # fmt: skip
    return f"{local}@{rng.choice(DOMAINS)}"


def _clinician(b: Builder, rng: random.Random) -> None:
    honorific = rng.choice(["Dr ", "Dr. ", "Prof ", "DR "])
    name = rng.choice(CLINICIANS)
    b.add(honorific)
    b.words(name.upper() if honorific == "DR " else name)


Slot = Callable[[Builder, random.Random, Person, Person], None]


def _val(cls: str, make: Callable[[random.Random], str]) -> Slot:
    return lambda b, rng, p, q: b.add(make(rng), cls)


SLOTS: dict[str, Slot] = {
    "own": lambda b, rng, p, q: mention(b, p, rng, own=True),
    "other": lambda b, rng, p, q: mention(b, q, rng, own=False),
    "dr": lambda b, rng, p, q: _clinician(b, rng),
    "email": lambda b, rng, p, q: b.add(email(rng, p), "email"),
    "phone": _val("phone", phone),
    "ssn": _val("ssn", ssn),
    "nhs": _val("nhs_number", nhs_number),
    "card": _val("card_number", card),
    "dob": _val("date_of_birth", lambda rng: written_date(rng, birth_date(rng))),
    "date": _val("date_of_birth", lambda rng: written_date(rng, event_date(rng))),
    # Clean fillers.
    "drug": lambda b, rng, p, q: b.add(rng.choice(DRUGS)),
    "lab": lambda b, rng, p, q: b.add(rng.choice(LABS)),
    "icd": lambda b, rng, p, q: b.add(rng.choice(ICD10)),
    "loinc": lambda b, rng, p, q: b.add(rng.choice(LOINC)),
    "snomed": lambda b, rng, p, q: b.add(rng.choice(SNOMED)),
    "ndc": lambda b, rng, p, q: b.add(rng.choice(NDC)),
    "cpt": lambda b, rng, p, q: b.add(rng.choice(CPT)),
    "url": lambda b, rng, p, q: b.add(rng.choice(URLS)),
    "fda": lambda b, rng, p, q: b.add(fda_product_id(rng)),
    "rid": lambda b, rng, p, q: b.add(record_id(rng)),
    "ward": lambda b, rng, p, q: b.add(rng.choice(WARDS)),
    "n": lambda b, rng, p, q: b.add(str(rng.randint(2, 14))),
    "year": lambda b, rng, p, q: b.add(str(rng.randint(1995, 2025))),
}

PII_TEMPLATES = [
    "Pt {own}, DOB {dob}, seen in {ward} with chest pain. Contact {phone}.",
    "{own} (NHS no. {nhs}) attended for review of {icd}; started {drug}.",
    "Called {own} on {phone} re results: {lab}, {lab}. Plan repeat on {date}.",
    "Referral letter for {own}, born {dob}. Email {email}. Seen by {dr}.",
    "Spoke with daughter {other} ({phone}) who confirms {own} is taking {drug}.",
    "Insurance: SSN {ssn}; card on file {card} (exp 09/28). Pt {own}.",
    "Discharge summary {rid}: {own} admitted {date}, discharged {date}. Follow-up with {dr}.",
    "Next of kin: {other}, tel {phone}, e-mail {email}.",
    "Patient identifiers: NHS {nhs}, DOB {dob}. Allergies: penicillin (rash).",
    "{own} reports {n} days of cough; {lab}, {lab}. CXR {date}: no consolidation.",
    "Message left for {own} at {phone} and {phone}.",
    "Billing query from {own}: card {card} was charged twice on {date}.",
    "SSN on form ({ssn}) does not match records for {own}; ask at next visit.",
    "Consent signed by {own} on {date} in the presence of {dr}.",
    "ED triage: {own}, {n}y, DOB {dob}. BIBA. {lab}, {lab}. Contact: {phone}.",
    "Home visit: {own} and husband {other} at home; {drug} reviewed. Tel {phone}.",
    "{own}'s results emailed to {email} on {date} as requested.",
    "Per {dr}, {own} can restart {drug} from {date}.",
    "Transferred from {ward}: {own} (DOB {dob}, NHS {nhs}).",
    "Pharmacy: {own} collected {drug}. Paid by card {card}.",
    "Tel consult with {own} ({phone}); mother {other} present. HbA1c plan: {lab}.",
    "Safeguarding note re {own}; contact social worker {other} on {phone} or {email}.",
    "Letter to {own}, re appointment on {date}. If unable to attend call {phone}.",
    "{own} DOB {dob} SSN {ssn} — identity verified at registration.",
    "Verbal handover: {own}, {ward}, {icd}, on {drug}; family ({other}) aware.",
    "Clinic {date}: {own} seen by {dr}. BP {n}0/80. Next review {date}.",
    "Form received from {email} for {own}; NHS number {nhs} confirmed.",
    "Duplicate record suspected: {own} (DOB {dob}) vs {other} (DOB {dob}).",
    "{own} asks that letters go to {email} not the old address; mobile {phone}.",
    "Prior auth for {own}: member SSN {ssn}, DOB {dob}, {cpt}.",
    "Anaesthetic review: {own}, {lab}, {lab}; fasting from {date}. {dr} consulted.",
    "Seen with partner {other}. {own} reports improvement on {drug}.",
    "Recall letter: {own}, last cervical screen {date}.",
    "Emergency contact for {own}: {other} — {phone}.",
    "Obs chart for {own} ({rid}): {lab}, {lab}, {lab}.",
    "Interpreter booked for {own} ({date}); son {other} to attend, tel {phone}.",
    "Payment declined for {own}: card {card}. Re-try with {card}?",
    '{own} emailed from {email}: "please call me on {phone}".',
    "Fit note issued to {own} from {date} to {date}.",
    "Vaccination record: {own}, DOB {dob}, dose 2 given {date} (lot {rid}).",
]
CLEAN_TEMPLATES = [
    "Started {drug}; review in {n} weeks. {lab}, {lab}.",
    "Dx {icd}. Plan: {drug} and lifestyle advice. LOINC {loinc} ordered.",
    "Product {fda} dispensed; NDC {ndc}.",
    "Resource {url} validated against profile.",
    '<Patient {url}><id value="{rid}"/></Patient>',
    "Encounter {rid} closed; order {rid} pending.",
    "SNOMED {snomed} mapped to ICD-10 {icd}.",
    "Obs: {lab}, {lab}, {lab}, {lab}.",
    "Transferred to {ward}. {drug}. Obs stable, {lab}.",
    "CPT {cpt} billed for visit; NDC {ndc} administered.",
    "{lab}; {lab}. Discussed with registrar, no change to {drug}.",
    "Label set {fda} (SPL) supersedes {fda}.",
    "Wound dressed, {n} cm x {n} cm, no signs of infection. Review {n} days.",
    "Sliding scale: {drug}; target glucose 6-10 mmol/L.",
    "Results {loinc} and {loinc} within range; {lab}.",
    "Imaging: CT head NAD. {lab}. Plan: {drug}.",
    "Hx of MS and {icd}; ED attendance x{n} in {year}.",
    "Problem list: {icd}, {icd}, {icd}. SNOMED {snomed}.",
    "Pt mobilising with frame, PT to review. {lab}.",
    "Bundle {rid} posted to {url}.",
    "IV access x2, {drug}, fluids 1 L over 8 h. {lab}.",
    "Stock check: {ndc} x {n} boxes, {ndc} x {n} boxes.",
    "Protocol v{n}.{n} ({year}): {drug} then {drug}.",
    "Audit {rid}: {n} of {n} charts complete; {year} target 95%.",
    "Echo: EF 55-60%, mild MR. {lab}.",
    "Telemetry {ward}: sinus rhythm, {lab}.",
    "Sepsis screen negative. {lab}, {lab}. Continue {drug}.",
    "Insulin pump settings: basal 0.8 u/h 00:00-06:00, 1.0 u/h 06:00-24:00.",
    "SPL document {fda}, set id from {url}.",
    "Coding query: {icd} vs {icd}; LOINC {loinc}; CPT {cpt}.",
]


def _fill(template: str, rng: random.Random, p: Person, q: Person) -> Builder:
    b = Builder()
    rest = template
    while "{" in rest:
        before, _, tail = rest.partition("{")
        slot, _, rest = tail.partition("}")
        b.add(before)
        SLOTS[slot](b, rng, p, q)
    b.add(rest)
    return b


def people(rng: random.Random, n: int) -> list[Person]:
    out = []
    for _ in range(n):
        female = rng.random() < 0.5
        out.append(Person(rng.choice(GIVEN_F if female else GIVEN_M), rng.choice(SURNAMES), female))
    return out


def build(n_pii: int = 560, n_clean: int = 560, seed: int = SEED) -> tuple[list[dict], list[str]]:
    rng = random.Random(seed)
    roster = people(rng, 160)
    records = []
    for i in range(n_pii):
        p, q = rng.choice(roster), rng.choice(roster)
        while q.surname == p.surname:
            q = rng.choice(roster)
        b = _fill(PII_TEMPLATES[i % len(PII_TEMPLATES)], rng, p, q)
        records.append({"id": f"pii-{i:04d}", "kind": "pii", "text": "".join(b.parts), "spans": b.spans,
                        "own_names": [p.given, p.surname]})  # fmt: skip
    for i in range(n_clean):
        p = rng.choice(roster)
        b = _fill(CLEAN_TEMPLATES[i % len(CLEAN_TEMPLATES)], rng, p, p)
        # The row still has a name (the loader always has one): it must not be found where it is not.
        records.append({"id": f"clean-{i:04d}", "kind": "clean", "text": "".join(b.parts), "spans": [],
                        "own_names": [p.given, p.surname]})  # fmt: skip
    known = sorted({f"{p.given} {p.surname}" for p in roster})
    return records, known


def main() -> None:
    records, known = build()
    with CORPUS.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    KNOWN_NAMES.write_text("\n".join(known) + "\n", encoding="utf-8")
    spans = sum(len(r["spans"]) for r in records)
    print(f"{len(records)} strings, {spans} spans -> {CORPUS.name}, {len(known)} names -> {KNOWN_NAMES.name}")


if __name__ == "__main__":
    main()
