"""What the landing zone holds that no feed reads: reported, never skipped without a word.

`ingest.landing.list_files` lists the files of the entity folders a feed declares. Everything else a
client delivers would otherwise vanish silently: a folder no feed declares (`allergies/` before its
feed is written), a dot file (`.DS_Store`, an upload tool's `.part`), a file dropped beside the entity
folders, a folder inside an entity folder. Each becomes an `Ignored` entry with its reason; the
loader records it in audit.file_loads as `rejected` and prints it.

Names are data too: files are shown only in their PII-safe form (`Describer.file_name`), folders only
when they read like a folder name (snake case, no known name or other PII).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.config import Feed
from ingest.describe import Describer
from ingest.landing import feed_root

_FOLDER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Ignored:
    feed: str
    entity: str | None  # the declared entity folder it was found in, None outside them
    label: str  # PII-safe name
    reason: str  # one line


def _local(url: str) -> Path | None:
    if "://" not in url:
        return Path(url)
    if url.startswith("file://"):
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        return Path(url2pathname(urlparse(url).path))
    return None


def landing_missing(landing_root: str) -> str | None:
    """Why the landing zone cannot be listed at all, or None. Only local folders are checked: an empty
    bucket prefix is not an error for object stores, which have no folders."""
    path = _local(landing_root)
    if path is None:
        return None
    if not path.exists():
        return f"landing zone {landing_root} does not exist (--landing or WAREHOUSE_LANDING)"
    if not path.is_dir():
        return f"landing zone {landing_root} is not a folder (--landing or WAREHOUSE_LANDING)"
    return None


def folder_label(name: str, describer: Describer) -> str:
    if _FOLDER_NAME.match(name) and describer.pii(name) is None:
        return f"{name}/"
    return f"folder #{describer.text_id(name)} ({len(name)} chars)/"


def list_ignored(
    feeds: Iterable[Feed], landing_root: str, describer: Describer, *, all_feeds: bool = True
) -> Iterator[Ignored]:
    """Entries of the landing zone that no feed reads, with the reason, in a stable order.

    all_feeds: the run covers every feed, so a top-level folder that is no feed's is reported too
    (with --feed, other feeds' folders are simply not this run's business)."""
    zone = _local(landing_root)
    if zone is None or not zone.is_dir():
        return  # object stores: only what the feeds declare is listed (no folders to walk)
    feeds = list(feeds)
    if all_feeds:
        yield from _top_level(feeds, zone, describer)
    real_zone = zone.resolve()
    for feed in feeds:
        root = _local(feed_root(feed, str(zone)))
        if root is None or not root.is_dir():
            continue
        if not root.resolve().is_relative_to(real_zone):
            continue  # a feed folder out of the zone is refused by the listing; nothing there is walked
        yield from _feed_folder(feed, root, describer)


def _top_level(feeds: list[Feed], zone: Path, describer: Describer) -> Iterator[Ignored]:
    known = {feed.feed for feed in feeds}
    for feed in feeds:
        if feed.landing and "://" not in feed.landing and not feed.landing.startswith("/"):
            known.add(Path(feed.landing).parts[0])
    for entry in _entries(zone):
        if entry.name in known:
            continue
        if entry.name.startswith("."):
            continue  # the zone's own dot entries (.git, .DS_Store) belong to no feed or client
        if entry.is_dir():
            yield Ignored(
                entry.name if _FOLDER_NAME.match(entry.name) else "(landing)",
                None,
                folder_label(entry.name, describer),
                f"folder {folder_label(entry.name, describer)} is no feed's: add ingest/feeds/<feed>.yml for it "
                f"or move its {_count_files(entry.path)} file(s) into a feed's entity folder",
            )
        else:
            yield Ignored("(landing)", None, describer.file_name(entry.name, None), _outside("a feed folder"))


def _feed_folder(feed: Feed, root: Path, describer: Describer) -> Iterator[Ignored]:
    declared: dict[str, str] = {}
    for entity_name, entity in feed.entities.items():
        declared.setdefault(Path(entity.path or entity_name).parts[0], entity_name)
    for entry in _entries(root):
        if entry.name in declared:
            if entry.is_dir():
                yield from _entity_folder(feed, declared[entry.name], Path(entry.path), describer)
            continue
        if entry.name.startswith("."):
            yield Ignored(feed.feed, None, _label(entry, describer), _dot())
        elif entry.is_dir():
            label = folder_label(entry.name, describer)
            yield Ignored(
                feed.feed,
                None,
                label,
                f"entity folder {label} is not declared by feed {feed.feed} (declared: {', '.join(sorted(declared))}):"
                f" its {_count_files(entry.path)} file(s) are not read; declare the entity in "
                f"ingest/feeds/{feed.feed}.yml or move the files",
            )
        else:
            yield Ignored(feed.feed, None, describer.file_name(entry.name, None), _outside("an entity folder"))


def _entity_folder(feed: Feed, entity_name: str, folder: Path, describer: Describer) -> Iterator[Ignored]:
    entity = feed.entities[entity_name]
    if entity.path and len(Path(entity.path).parts) > 1:
        return  # a nested entity path: its parent folder holds other things by design
    pattern = feed.pattern()
    for entry in _entries(folder):
        if entry.name.startswith("."):
            yield Ignored(feed.feed, entity_name, _label(entry, describer, pattern), _dot())
        elif entry.is_dir() and not entry.is_symlink():
            label = folder_label(entry.name, describer)
            yield Ignored(
                feed.feed,
                entity_name,
                label,
                f"folder {label} inside an entity folder: not searched ({_count_files(entry.path)} file(s)); "
                "land files directly in the entity folder",
            )


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda e: e.name)
    except OSError:
        return []


def _label(entry: os.DirEntry, describer: Describer, pattern: re.Pattern[str] | None = None) -> str:
    if entry.is_dir():
        return folder_label(entry.name, describer)
    return describer.file_name(entry.name, pattern)


def _count_files(path: str) -> int:
    count = 0
    for _, _, files in os.walk(path):
        count += len(files)
        if count > 100_000:
            break  # a count, not an inventory
    return count


def _dot() -> str:
    return "a hidden (dot) entry: not read; if it is a delivery, rename it without the leading dot"


def _outside(where: str) -> str:
    return f"not in {where}: not read; move it into the entity folder it belongs to"
