"""The landing zone: which files are there, what feed, entity, client and date each one is.

Files are listed through dlt's fsspec filesystem layer, so `landing/` on disk and `s3://...` or
`gs://...` buckets behave the same. Layout: `<landing>/<feed>/<entity>/<file>`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from dlt.common.storages.fsspec_filesystem import fsspec_filesystem, glob_files

from ingest.config import Feed
from ingest.describe import Describer
from warehouse.errors import WarehouseError

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class LandedFile:
    feed: str
    entity: str
    name: str  # file name, no folders
    url: str  # what fsspec opens
    size: int
    client_id: str | None  # None when the name does not match the feed's pattern
    file_date: date | None
    seq: int
    # The name as it may be stored, printed and logged (`Describer.file_name`): the name itself only
    # when it matches the feed's pattern and carries nothing that looks like PII.
    label: str = ""
    name_pii: bool = False  # matched the pattern, yet looks like it holds PII (a client id that is a name)

    @property
    def matched(self) -> bool:
        return self.client_id is not None


def default_landing_root() -> str:
    return os.environ.get("WAREHOUSE_LANDING", "landing")


def _protocol(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else "file"


def feed_root(feed: Feed, landing_root: str) -> str:
    if feed.landing:
        return feed.landing
    return f"{landing_root.rstrip('/')}/{feed.feed}"


def list_files(feed: Feed, landing_root: str, describer: Describer | None = None) -> Iterator[LandedFile]:
    """Every file under each entity folder of the feed, in a stable order (client, date, seq, name).

    File names are data too (a file named after a patient): each gets its `label`."""
    describer = describer or Describer(key=None)
    root = feed_root(feed, landing_root)
    protocol = _protocol(root)
    if protocol == "file":
        root = str(Path(root.removeprefix("file://")).resolve())
    try:
        # dlt builds (and for cloud URLs authenticates) the fsspec filesystem from the URL itself.
        fs, _ = fsspec_filesystem(root)
    except Exception as exc:  # fsspec raises many types for a missing driver or bad URL
        raise WarehouseError(f"cannot open landing zone {root}: {type(exc).__name__}") from None
    pattern = feed.pattern()
    found: list[LandedFile] = []
    for entity_name, entity in feed.entities.items():
        folder = f"{root}/{entity.path or entity_name}"
        if protocol == "file" and not Path(folder).is_dir():
            continue
        for item in glob_files(fs, folder, file_glob="*"):
            name = item["file_name"]
            if name.startswith("."):
                continue
            match = pattern.match(name)
            client_id = file_date = None
            seq = 0
            if match:
                groups = match.groupdict()
                client_id = groups.get("client_id")
                raw_date = groups.get("file_date")
                try:
                    file_date = date.fromisoformat(raw_date) if raw_date else None
                except ValueError:
                    client_id = None  # 2026-13-45 matches the shape but is not a date
                seq = int(groups.get("seq") or 0)
            name_pii = client_id is not None and describer.file_name_pii(name, match) is not None
            if name_pii:
                client_id = None  # not taken in: its client id would be stored on every row
            found.append(
                LandedFile(
                    feed=feed.feed,
                    entity=entity_name,
                    name=name,
                    url=item["file_url"],
                    size=int(item.get("size_in_bytes") or 0),
                    client_id=client_id,
                    file_date=file_date,
                    seq=seq,
                    label=describer.file_name(name, pattern),
                    name_pii=name_pii,
                )
            )
    found.sort(key=lambda f: (f.entity, f.client_id or "", f.file_date or date.min, f.seq, f.name))
    yield from found


def open_file(landed: LandedFile):
    fs, _ = fsspec_filesystem(landed.url)
    return fs.open(landed.url, "rb")


def sha256_of(landed: LandedFile) -> str:
    digest = hashlib.sha256()
    with open_file(landed) as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
