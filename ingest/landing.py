"""The landing zone: which files are there, what feed, entity, client and date each one is.

Files are listed through dlt's fsspec filesystem layer, so `landing/` on disk and `s3://...` or
`gs://...` buckets behave the same. Layout: `<landing>/<feed>/<entity>/<file>`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

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
    refused: str | None = None  # why it is not read at all (a link out of the landing zone): one line

    @property
    def matched(self) -> bool:
        return self.client_id is not None


def default_landing_root() -> str:
    return os.environ.get("WAREHOUSE_LANDING", "landing")


def _protocol(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else "file"


def _local_path(url: str) -> Path:
    # A `file://` URL percent-encodes spaces, quotes and non-ASCII letters: the path is its decoded form.
    if url.startswith("file://"):
        return Path(url2pathname(urlparse(url).path))
    return Path(url)


def feed_root(feed: Feed, landing_root: str) -> str:
    """The feed's folder: `<landing root>/<feed>`, or its `landing:` (relative to the landing root)."""
    if not feed.landing:
        return f"{landing_root.rstrip('/')}/{feed.feed}"
    if "://" in feed.landing or feed.landing.startswith("/"):
        return feed.landing
    return f"{landing_root.rstrip('/')}/{feed.landing}"


def list_files(feed: Feed, landing_root: str, describer: Describer | None = None) -> Iterator[LandedFile]:
    """Every file under each entity folder of the feed, in a stable order (client, date, seq, name).

    File names are data too (a file named after a patient): each gets its `label`. What the loader
    will not read (a symbolic link or a folder leading out of the landing zone, a FIFO) is listed
    with the reason in `refused`, so that it is recorded as rejected and the run goes on."""
    describer = describer or Describer(key=None)
    pattern = feed.pattern()
    if _protocol(landing_root) == "file":
        found = list(_list_local(feed, landing_root, describer, pattern))
    else:
        found = list(_list_remote(feed, landing_root, describer, pattern))
    found.sort(key=lambda f: (f.entity, f.client_id or "", f.file_date or date.min, f.seq, f.name))
    yield from found


def _list_local(feed: Feed, landing_root: str, describer: Describer, pattern) -> Iterator[LandedFile]:
    """Plain paths, not fsspec `file://` URLs: dlt's URLs are percent-encoded and fsspec opened them
    undecoded (a folder with a space or a `ë` was a FileNotFoundError), and Python's glob read `[`
    in a folder name as a pattern. Every path is resolved and must stay inside the landing zone:
    symbolic links and `landing:` can otherwise point anywhere the loader may read."""
    zone = _local_path(landing_root).resolve()
    root = feed_root(feed, str(zone))
    for entity_name, entity in feed.entities.items():
        if "://" in root and _protocol(root) != "file":
            yield _refused(feed, entity_name, root, f"feed landing {root} is not in the landing zone {zone}",
                           describer, pattern)  # fmt: skip
            continue
        folder = _local_path(root) / (entity.path or entity_name)
        real = folder.resolve()
        # Refused even when it does not exist (yet): a misconfigured feed is reported on every run.
        if not real.is_relative_to(zone):
            yield _refused(feed, entity_name, folder.name, f"folder {folder} leads out of the landing zone {zone}",
                           describer, pattern)  # fmt: skip
            continue
        if not real.is_dir():
            continue
        with os.scandir(real) as entries:
            listed = sorted(entries, key=lambda e: e.name)
        for entry in listed:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(zone):
                    kind = "folder" if target.is_dir() else "file"
                    yield _refused(feed, entity_name, entry.name,
                                   f"a symbolic link to a {kind} out of the landing zone: land the file itself",
                                   describer, pattern)  # fmt: skip
                    continue
                path = target
            if path.is_dir():
                continue  # entity folders are not searched recursively
            if not path.is_file():
                # A FIFO or a device would block the loader or never end.
                yield _refused(feed, entity_name, entry.name, "not a regular file", describer, pattern)
                continue
            yield _landed(feed, entity_name, entry.name, str(path), path.stat().st_size, describer, pattern)


def _list_remote(feed: Feed, landing_root: str, describer: Describer, pattern) -> Iterator[LandedFile]:
    root = feed_root(feed, landing_root)
    zone = landing_root.rstrip("/") + "/"
    try:
        # dlt builds (and for cloud URLs authenticates) the fsspec filesystem from the URL itself.
        fs, _ = fsspec_filesystem(root)
    except Exception as exc:  # fsspec raises many types for a missing driver or bad URL
        raise WarehouseError(f"cannot open landing zone {root}: {type(exc).__name__}") from None
    for entity_name, entity in feed.entities.items():
        if not root.startswith(zone):
            yield _refused(feed, entity_name, root, f"feed landing {root} is not in the landing zone {landing_root}",
                           describer, pattern)  # fmt: skip
            continue
        folder = f"{root}/{entity.path or entity_name}"
        for item in glob_files(fs, folder, file_glob="*"):
            name = item["file_name"]
            if name.startswith("."):
                continue
            size = int(item.get("size_in_bytes") or 0)
            yield _landed(feed, entity_name, name, item["file_url"], size, describer, pattern)


def _landed(feed: Feed, entity: str, name: str, url: str, size: int, describer: Describer, pattern) -> LandedFile:
    match = pattern.match(name)
    client_id = file_date = None
    seq = 0
    if match:
        groups = match.groupdict()
        client_id = groups.get("client_id")
        raw_date = groups.get("file_date")
        try:
            file_date = _file_date(raw_date, feed.file_date_format) if raw_date else None
        except ValueError:
            client_id = None  # 2026-13-45 matches the shape but is not a date
        seq = int(groups.get("seq") or 0)
    name_pii = client_id is not None and describer.file_name_pii(name, match) is not None
    if name_pii:
        client_id = None  # not taken in: its client id would be stored on every row
    return LandedFile(
        feed=feed.feed, entity=entity, name=name, url=url, size=size, client_id=client_id, file_date=file_date,
        seq=seq, label=describer.file_name(name, pattern), name_pii=name_pii,
    )  # fmt: skip


def _file_date(text: str, fmt: str | None) -> date:
    """The `file_date` group of a file name: ISO by default, else the feed's `file_date_format`."""
    if fmt is None:
        return date.fromisoformat(text)
    return datetime.strptime(text, fmt).date()


def _refused(feed: Feed, entity: str, name: str, reason: str, describer: Describer, pattern) -> LandedFile:
    return LandedFile(
        feed=feed.feed, entity=entity, name=name, url="", size=0, client_id=None, file_date=None, seq=0,
        label=describer.file_name(name, pattern), refused=reason,
    )  # fmt: skip


def open_file(landed: LandedFile):
    fs, _ = fsspec_filesystem(landed.url)
    return fs.open(landed.url, "rb")


def sha256_of(landed: LandedFile) -> str:
    digest = hashlib.sha256()
    with open_file(landed) as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
