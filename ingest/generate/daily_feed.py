"""Feeds delivered as numbered files per client and day (`_1`, `_2`, ...), such as the member
roster and the visits: every row passes the bad-row injector on its way out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ingest.generate import bad_rows as bad
from ingest.generate.people import CLIENTS, Person
from ingest.generate.writers import FileKind, Landing


class DailyCsvFeed:
    def __init__(
        self, seed: int, landing: Landing, dates: Sequence[date], kind: FileKind, per_day: int, injector: bad.Injector
    ) -> None:
        self.seed = seed
        self.dates = tuple(dates)
        self.files = landing.daily_csv_files(kind, CLIENTS, self.dates, per_day)
        self.injector = injector

    def _emit(self, person: Person, d: int, seq: int, row: list[str]) -> None:
        file = self.files[(person.client, d, seq)]
        duplicate = self.injector.process(row, file, self.dates[d], person)
        file.write(row)
        if duplicate is not None:
            file.write_later(duplicate)
