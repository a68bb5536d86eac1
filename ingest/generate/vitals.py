"""vitals: bedside-monitor readings as NDJSON, one file per client per day.

About 5 % of the clinic's patients are monitored: every day from their first appearance they get a
60-minute series of one reading a minute. That bounds the volume (roughly 60 x days lines per
monitored person) while still giving a time series dense enough for per-minute windows.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import date

from ingest.generate import bad_rows as bad
from ingest.generate.people import CLIENTS, Person
from ingest.generate.randomness import Rng
from ingest.generate.writers import Landing, NdjsonFile, PiiManifest

FEED = "vitals"
ENTITY = "readings"
KEYS: tuple[str, ...] = ("patient_id", "recorded_at", "heart_rate", "spo2", "respiratory_rate", "device_id")
HEADERS: dict[str, tuple[str, ...]] = {ENTITY: KEYS}
MINUTES = 60


class Vitals:
    def __init__(self, seed: int, landing: Landing, dates: Sequence[date]) -> None:
        self.seed = seed
        self.dates = tuple(dates)
        self.manifest: PiiManifest = landing.manifest
        self.files: dict[tuple[str, int], NdjsonFile] = {
            (client, d): landing.ndjson_file(FEED, ENTITY, client, day)
            for client in CLIENTS
            for d, day in enumerate(self.dates)
        }
        self.bad_rng = Rng(f"{seed}:bad_rows:{FEED}/{ENTITY}")
        self.counts = {bad.TEXT_IN_NUMBER: 0, bad.MISSING_REQUIRED: 0}

    def write_chunk(self, people: Sequence[Person], chunk: int) -> None:
        rng = Rng(f"{self.seed}:{FEED}:{chunk}")
        for person in people:
            if person.monitored:
                self._person(person, rng)

    def _person(self, person: Person, rng: random.Random) -> None:
        device = f"dev-{rng.getrandbits(32):08x}"
        resting = (100 if person.age_on(self.dates[0]) < 6 else 76) + (rng.random() - 0.5) * 30
        self.manifest.add("mrn", person.mrn)
        # The hot loop of the whole generator (60 lines a day per person): bound methods and sums
        # of uniforms instead of Random.gauss keep it cheap.
        uniform, bad_roll = rng.random, self.bad_rng.random
        prefix = f'{{"patient_id":"{person.mrn}","recorded_at":"'
        suffix = f',"device_id":"{device}"}}'
        for d in range(person.first_day, len(self.dates)):
            file = self.files[(person.client, d)]
            write = file.write
            day = self.dates[d].isoformat()
            start = rng.randrange(24 * 60 - MINUTES)
            heart = resting
            for minute in range(start, start + MINUTES):
                # A mean-reverting random walk: consecutive minutes look like one patient, not noise.
                heart = min(max(heart + (uniform() + uniform() - 1) * 4 + (resting - heart) * 0.1, 40), 170)
                rate = round(heart)
                spo2 = min(100, 94 + int(uniform() * 4 + uniform() * 3))
                breaths = 12 + int(uniform() * 5 + uniform() * 4)
                stamp = f"{day}T{minute // 60:02d}:{minute % 60:02d}:00Z"
                if bad_roll() < bad.DEFAULT_RATE and file.corrupted + 1 <= bad.MAX_SHARE_PER_FILE * (file.seen + 1):
                    file.corrupted += 1
                    write(self._bad_line(person.mrn, stamp, rate, spo2, breaths, device))
                else:
                    write(f'{prefix}{stamp}","heart_rate":{rate},"spo2":{spo2},"respiratory_rate":{breaths}{suffix}')

    def _bad_line(self, mrn: str, stamp: str, heart: int, spo2: int, breaths: int, device: str) -> str:
        record: dict[str, object] = {
            "patient_id": mrn,
            "recorded_at": stamp,
            "heart_rate": heart,
            "spo2": spo2,
            "respiratory_rate": breaths,
            "device_id": device,
        }
        rng = self.bad_rng
        if rng.random() < 0.5:
            self.counts[bad.TEXT_IN_NUMBER] += 1
            key = rng.choice(("heart_rate", "spo2", "respiratory_rate"))
            record[key] = rng.choice(("abc", f"{record[key]} bpm", f"{record[key]}%", "--"))
        else:
            self.counts[bad.MISSING_REQUIRED] += 1
            key = rng.choice(("patient_id", "recorded_at"))
            if rng.random() < 0.5:
                record[key] = None
            else:
                del record[key]  # the key is absent altogether, which NDJSON readers treat differently
        return json.dumps(record, separators=(",", ":"))
