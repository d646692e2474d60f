"""Recording rotation: which recordings to delete so a directory stays within an age and a
total size (``cuas prune``, run hourly by ``systemd/cuas-prune.timer``).

The choice is a pure function of (name, size, modification time) so that it is tested
without a clock; the I/O shell lists the directory and deletes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: What counts as a recording (anything else in the directory is left alone).
RECORDING_SUFFIXES = (".mcap", ".jsonl")


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One recording: its path, size (bytes) and modification time (UTC s)."""

    path: Path
    size: int
    mtime: float


def choose(files: Iterable[FileInfo], *, now: float, max_age_s: float | None,
           max_total_bytes: int | None, keep_newest: int = 1) -> list[FileInfo]:
    """The recordings to delete: every one older than ``max_age_s``, then the oldest until
    the rest total at most ``max_total_bytes``. The ``keep_newest`` newest (the one being
    written) are never chosen. Oldest first."""
    ordered = sorted(files, key=lambda f: (f.mtime, f.path.name))
    protected = set(id(f) for f in ordered[len(ordered) - keep_newest:]) if keep_newest else set()
    doomed: list[FileInfo] = []
    kept: list[FileInfo] = []
    for f in ordered:
        if id(f) not in protected and max_age_s is not None and now - f.mtime > max_age_s:
            doomed.append(f)
        else:
            kept.append(f)
    if max_total_bytes is not None:
        total = sum(f.size for f in kept)
        for f in list(kept):
            if total <= max_total_bytes:
                break
            if id(f) in protected:
                continue
            doomed.append(f)
            kept.remove(f)
            total -= f.size
    return sorted(doomed, key=lambda f: (f.mtime, f.path.name))


def scan(directory: Path, suffixes: Sequence[str] = RECORDING_SUFFIXES) -> list[FileInfo]:
    """The recordings directly in ``directory`` (files that vanish meanwhile are skipped)."""
    found = []
    for path in directory.iterdir():
        if path.suffix not in suffixes:
            continue
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if path.is_file():
            found.append(FileInfo(path, st.st_size, st.st_mtime))
    return found


def prune(directory: Path, *, now: float, max_age_s: float | None,
          max_total_bytes: int | None, dry_run: bool = False) -> list[FileInfo]:
    """Delete what :func:`choose` picks in ``directory``; returns what was (or, with
    ``dry_run``, would be) deleted."""
    doomed = choose(scan(directory), now=now, max_age_s=max_age_s,
                    max_total_bytes=max_total_bytes)
    if not dry_run:
        for f in doomed:
            try:
                f.path.unlink()
            except FileNotFoundError:
                continue
            log.info("deleted %s (%d bytes)", f.path, f.size)
            # Its tamper-evidence manifest (cuas.record.manifest) goes with it.
            f.path.with_name(f.path.name + ".manifest").unlink(missing_ok=True)
    return doomed
