"""Files the warehouse writes are its owner's only: 0600 files in 0700 folders.

The CLI sets a umask of 077 first thing, which covers every file opened the ordinary way. These
helpers are for what a umask does not cover: folders that already existed (made by an earlier
version, or by hand), files a library copies with their source's mode, and callers that run the
loader or the report in-process (tests, notebooks) under a wider umask.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def restrict(path: Path) -> None:
    """One file or folder (not what is under it); symbolic links are left alone."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return
    wanted = DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE
    if stat.S_IMODE(st.st_mode) != wanted:
        path.chmod(wanted)


def restrict_tree(root: Path) -> None:
    """`root` and everything under it. Entries that vanish meanwhile (a dlt worker's temporary
    files) are skipped: they no longer hold anything."""
    if not root.exists():
        return
    restrict(root)
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            try:
                restrict(Path(folder) / name)
            except FileNotFoundError:
                continue


def private_dir(path: Path) -> Path:
    """`path` as a folder of our own: made if missing (parents too, all 0700), made 0700 if not."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    path.mkdir(parents=True, exist_ok=True)
    for folder in [*missing, path]:
        restrict(folder)
    return path


def write_text(path: Path, text: str) -> None:
    """`text` into `path`, mode 0600 from its creation on (a file that existed is made 0600 first)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(fd, FILE_MODE)
        handle.write(text)
