"""Generate a deterministic demo / test landing zone: `generate_landing_zone(out, ...)`.

Same seed and arguments give byte-identical files: every random draw comes from a `random.Random`
seeded from (seed, purpose, chunk), never the global generator or the clock. People are generated
and written in chunks of `people.CHUNK_SIZE`, so memory stays flat from a thousand patients to
millions.

Layout: `out/<feed>/<entity>/<client>_<YYYY-MM-DD>[_N].<ext>` for the clients acme, globex and
initech (uneven sizes), one date per day from `start`. Every file is UTF-8; CSV files have a header.

Feeds (the columns are exactly those in `ingest/feeds/<feed>.yml`):

clinic_emr -- a clinic EHR extract; CSV, one file per client per day.
    patients      patient_id (MRN + 8 digits), first_name, last_name, birth_date, sex (M/F/U), ssn, zip,
                  phone (five formats), email, consent (Y/N; ~3 % N, which the loader filters out),
                  updated_at. Later days re-send ~4 % of patients with a change (phone, e-mail, a move,
                  a hyphenated last name, sex recoded to or from U).
    encounters    encounter_id, patient_id, encounter_date, encounter_type (ambulatory, emergency,
                  inpatient, telehealth), site_id (S01..S05; ~1 % S99, an unlisted site the loader
                  filters out), reason (free text).
    observations  observation_id, patient_id, encounter_id, observed_at, code_system (LOINC or LOCAL),
                  code (8302-2 height, 29463-7 weight, 8480-6 / 8462-4 blood pressure, 8867-4 heart
                  rate; ~10 % of encounters use the local HT, WT, SBP, DBP, HR and ~2 % add an
                  unmappable local code such as XYZ1), value, unit (cm or [in_i], kg or [lb_av],
                  mm[Hg], /min). About 15 % of people are measured in inches and pounds.
    medications   medication_id, patient_id, encounter_id, ndc_code (a PRODUCTNDC of the fda_ndc
                  catalogue, chosen to treat the encounter's diagnoses), start_date, end_date, dose_text.
    conditions    condition_id, patient_id, encounter_id, icd10_code, onset_date.

member_roster -- a payer's member list; CSV, files `_1` and `_2` per client per day.
    members       member_id (M + 9 digits), first_name, last_name, date_of_birth, zip, phone, email,
                  national_id (the SSN: the link to clinic_emr patients.ssn), plan (bronze, silver,
                  gold, platinum), start_date, end_date. About 90 % of people are members, 95 % are
                  clinic patients. Conflicts with the clinic: ZIP (~5 %), nickname (~15 % of those
                  who have one), other last name (~2 %), phone (~4 %), e-mail (~10 %), day/month of
                  birth swapped (~1 %), SSN written with spaces (~2 %) or missing (~2 %). `_2` and later
                  days repeat members with plan changes, moves, terminations, or unchanged.

patient_visits -- billing's visit extract; CSV, files `_1`.. `_3` per client per day, each covering a
    third of the day so last_updated grows file by file.
    visits        visit_id, patient_id (MRN), visit_date, visit_type (checkup, follow_up, urgent,
                  specialist), visit_cost (2 decimals), last_updated. ~8 % are re-sent re-priced in a
                  later file (updates); ~5 % arrive 2-10 days after their visit_date (late-arriving).

vitals -- bedside monitors; NDJSON, one file per client per day.
    readings      {"patient_id", "recorded_at" (on the minute), "heart_rate", "spo2",
                  "respiratory_rate", "device_id"}: 60 consecutive minutes a day for ~5 % of clinic
                  patients. ~2 % of lines have text in a number or a missing / null patient_id or
                  recorded_at.

synthea -- a Synthea v3 CSV export of a separate population (one person per ten patients), one file
    per client per day for patients, encounters, observations, medications and conditions, with
    Synthea's exact headers and value styles. Observations carry height, weight and a BMI consistent
    with them (one decimal) at every encounter.

fda_ndc -- the FDA NDC Directory; tab-delimited, CRLF, `fda_<date>.txt`, first day only.
    product, package  the FDA's headers; a synthetic catalogue of 300 products and their packages.

Bad rows: about 2 % of the rows of every CSV entity (FDA reference data excepted) are corrupted, one
kind per row, taking the entity's applicable kinds in turn (`bad_rows.BAD_ROW_KINDS`), and never more
than 4 % of a file, so that every file passes the loader's default 5 % invalid-row threshold.
`GenerationSummary.bad_rows` counts them; `bad_rows.LOADER_REJECTS` says which make a row invalid.
    bad_date_format         a date / timestamp as 20/11/2026, Nov 20 2026, 11-20-2026 ...: every CSV entity
    future_birth_date       clinic_emr patients, member_roster members, synthea patients
    negative_height         clinic_emr observations, on height rows (8302-2 / HT)
    text_in_number          "abc", "12,5kg": clinic_emr observations.value, visits.visit_cost, synthea
                            BASE_ENCOUNTER_COST and BASE_COST, vitals heart_rate / spo2 / respiratory_rate
    missing_required        an empty key or required value: every CSV entity; vitals null / absent
                            patient_id or recorded_at
    duplicate_business_key  the same key again later in the file with changed values (latest wins):
                            every CSV entity. Valid.
    formula_injection       =HYPERLINK(...) and friends in names, encounters.reason, dose_text, Synthea
                            ADDRESS / CITY / DESCRIPTION. Valid: must be stored verbatim.
    sql_looking             Robert'); DROP TABLE students;-- in name columns, name-free variants in kept
                            columns (reason, dose_text, REASONDESCRIPTION). Valid: stored verbatim.
    pii_in_free_column      the row's own person's first name, phone or e-mail in encounters.reason;
                            phone or e-mail in medications.dose_text. Valid: must be redacted.
    not_allowed_value       patients.sex, encounters.encounter_type, observations.unit, members.plan,
                            visits.visit_type, Synthea GENDER, ENCOUNTERCLASS, observations TYPE
Besides bad rows, valid rows that the feeds' whitelists drop: consent N patients and encounters at the
unlisted site S99 (`GenerationSummary.filtered_rows`).

PII manifest: with `pii_manifest`, a JSON Lines file of {"kind", "value"} for every personal value
written (names, birth dates as written, SSNs, MRNs, member ids, phones, e-mails, ZIPs, Synthea ids,
addresses, coordinates ...), deduplicated per chunk, for leak tests to search the warehouse for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ingest.generate import bad_rows, fda_ndc
from ingest.generate.clinic_emr import ClinicEmr
from ingest.generate.member_roster import MemberRoster
from ingest.generate.patient_visits import PatientVisits
from ingest.generate.people import Identifiers, chunks, people_chunk
from ingest.generate.synthea import Synthea
from ingest.generate.vitals import Vitals
from ingest.generate.writers import Landing, PiiManifest

FEEDS: tuple[str, ...] = ("clinic_emr", "member_roster", "patient_visits", "vitals", "synthea", "fda_ndc")
SYNTHEA_RATIO = 10  # clinic patients per Synthea person


@dataclass(frozen=True)
class GenerationSummary:
    out: Path
    dates: tuple[date, ...]
    patients: int
    synthea_patients: int
    files: dict[str, int]  # "feed/entity/file name" -> data rows, header excluded
    bad_rows: dict[str, int]  # kind -> rows, every kind listed
    bad_rows_by_entity: dict[str, dict[str, int]]  # "feed/entity" -> kind -> rows
    filtered_rows: dict[str, int] = field(default_factory=dict)  # valid rows the whitelists drop
    pii_values: int = 0  # lines in the PII manifest

    def rows(self, feed: str | None = None, entity: str | None = None) -> int:
        """Data rows written, in all files or in those of one feed (and entity)."""
        prefix = "" if feed is None else f"{feed}/{entity}/" if entity else f"{feed}/"
        return sum(n for name, n in self.files.items() if name.startswith(prefix))

    @property
    def total_rows(self) -> int:
        return sum(self.files.values())

    @property
    def total_bad_rows(self) -> int:
        return sum(self.bad_rows.values())


def _check_arguments(out: Path, patients: int, days: int, pii_manifest: Path | None) -> None:
    if patients < 1:
        raise ValueError("patients must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    if pii_manifest is not None:
        manifest, root = pii_manifest.resolve(), out.resolve()
        # Inside `out` the loader would pick the manifest up as landed data, leaking every value.
        if manifest == root or manifest.is_relative_to(root):
            raise ValueError(f"the PII manifest {pii_manifest} must be outside the landing zone {out}")


def generate_landing_zone(
    out: Path,
    *,
    patients: int = 2000,
    seed: int = 42,
    days: int = 3,
    start: date = date(2026, 11, 18),
    pii_manifest: Path | None = None,
) -> GenerationSummary:
    """Write every feed for `patients` people over `days` days into `out` (see the module docstring).

    Files of an earlier run in the same feed folders are replaced; other files are left alone.
    """
    out = Path(out)
    pii_manifest = Path(pii_manifest) if pii_manifest is not None else None
    _check_arguments(out, patients, days, pii_manifest)
    out.mkdir(parents=True, exist_ok=True)
    dates = tuple(start + timedelta(days=i) for i in range(days))

    landing = Landing(out, PiiManifest(pii_manifest))
    for feed in FEEDS:
        landing.clear_previous(feed)

    catalogue = fda_ndc.Catalogue(seed, start)
    fda_ndc.write(landing, catalogue, dates[0])

    clinic = ClinicEmr(seed, landing, dates, catalogue)
    roster = MemberRoster(seed, landing, dates)
    visits = PatientVisits(seed, landing, dates)
    vitals = Vitals(seed, landing, dates)
    ids = Identifiers.for_seed(seed)
    for chunk, count in chunks(patients):
        people = people_chunk(seed, chunk, count, days, ids)
        clinic.write_chunk(people, chunk)
        roster.write_chunk(people, chunk)
        visits.write_chunk(people, chunk)
        vitals.write_chunk(people, chunk)
        landing.flush()

    synthea = Synthea(seed, landing, dates)
    synthea_patients = max(1, round(patients / SYNTHEA_RATIO))
    for chunk, count in chunks(synthea_patients):
        synthea.write_chunk(chunk, count)
        landing.flush()

    by_entity: dict[str, dict[str, int]] = {}
    for name, injector in clinic.injectors.items():
        by_entity[f"clinic_emr/{name}"] = dict(injector.counts)
    by_entity["member_roster/members"] = dict(roster.injector.counts)
    by_entity["patient_visits/visits"] = dict(visits.injector.counts)
    by_entity["vitals/readings"] = dict(vitals.counts)
    for name, injector in synthea.injectors.items():
        by_entity[f"synthea/{name}"] = dict(injector.counts)
    totals = dict.fromkeys(bad_rows.BAD_ROW_KINDS, 0)
    for counts in by_entity.values():
        for kind, n in counts.items():
            totals[kind] += n

    return GenerationSummary(
        out=out,
        dates=dates,
        patients=patients,
        synthea_patients=synthea_patients,
        files=landing.row_counts(),
        bad_rows=totals,
        bad_rows_by_entity=by_entity,
        filtered_rows=dict(clinic.filtered),
        pii_values=landing.manifest.lines,
    )
