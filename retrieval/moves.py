"""Moving duplicates out of a collection, safely: nothing is deleted, and every move can be
undone from its manifest.

The manifest (``siamkit-moves.jsonl`` in the destination) lists every planned move before
the first file moves, so a run interrupted half-way leaves a manifest whose undo restores
exactly the files that did move: a file is moved back when it is at its destination and its
source is free, left alone when it never left. Undo checks every entry before it moves
anything.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from siamkit.errors import SiamkitError
from siamkit.folders import why_unwritable
from siamkit.progress import progress_bar
from siamkit.wording import counted

MANIFEST = "siamkit-moves.jsonl"
FORMAT = "siamkit-moves/1"


def check_destination(to: Path, sources: list[Path]) -> None:
    """``--to`` must be a new or empty folder outside every source folder."""
    to = to.resolve()
    for source in sources:
        source = source.resolve()
        if to == source or source in to.parents:
            raise SiamkitError(f"--to {to} is inside the image folder {source}: moved files would be found "
                               "again; choose a folder outside it")
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise SiamkitError(f"--to {to} exists and is not an empty folder; choose a new folder")
    if reason := why_unwritable(to):
        raise SiamkitError(f"--to {to}: {reason}; choose a folder you can write to")


def move_files(files: list[str], root: Path, to: Path) -> Path:
    """Moves ``files`` (below ``root``) to the same relative paths below ``to``; returns the manifest.

    A symbolic link is moved as the link, never the file it points to."""
    to.mkdir(parents=True, exist_ok=True)
    manifest = to / MANIFEST
    to, root = to.resolve(), root.resolve()
    sources = [Path(f).parent.resolve() / Path(f).name for f in files]
    moves = [(source, to / source.relative_to(root), _digest(source)) for source in sources]
    partial = to / f".{MANIFEST}.partial"
    with open(partial, "w") as handle:  # renamed when whole: an interrupted write leaves no manifest
        handle.write(json.dumps({"format": FORMAT, "moves": len(moves)}) + "\n")
        for source, target, digest in moves:
            handle.write(json.dumps({"source": str(source), "destination": str(target),
                                     "sha256": digest}) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, manifest)
    moved = 0
    try:
        for source, target, _ in progress_bar(moves, desc="moving", unit="file", leave=False):
            _move(source, target)
            moved += 1
    except (OSError, KeyboardInterrupt) as error:
        so_far = (f"{moved} of {counted(len(moves), 'file')} had moved before it, and "
                  f"`train duplicates --undo {manifest}` moves them back")
        if isinstance(error, KeyboardInterrupt):
            print(f"\ninterrupted: {so_far}", file=sys.stderr)
            raise
        raise SiamkitError(f"cannot move {source} to {target.parent}: {error.strerror}; {so_far}") from error
    return manifest


def undo_moves(manifest: Path) -> int:
    """Moves back what ``manifest`` records as moved; returns how many files moved back. Every
    entry is checked before anything moves."""
    entries = _read_manifest(manifest)
    back = []
    for source, target, digest in entries:
        if target.is_symlink() or target.exists():
            if source.is_symlink() or source.exists():
                _refuse(manifest, f"{source} and {target} both exist")
            if digest is not None and _digest(target) != digest:
                _refuse(manifest, f"{target} is not the file that was moved (its content changed)")
            back.append((target, source))
        elif not (source.is_symlink() or source.exists()):
            _refuse(manifest, f"{source} is neither there nor at {target}")
    for target, source in progress_bar(back, desc="moving back", unit="file", leave=False):
        _move(target, source)
    manifest.rename(manifest.with_suffix(".undone.jsonl"))
    return len(back)


def _refuse(manifest: Path, problem: str) -> None:
    raise SiamkitError(f"{manifest}: {problem}: files have moved since the manifest was written, so "
                       "nothing was undone. Put the file back by hand (or remove its line from the "
                       "manifest) and undo again")


def _read_manifest(manifest: Path) -> list[tuple[Path, Path, str | None]]:
    """(source, destination, sha256 or None for manifests written before digests) per entry; the
    manifest must be whole, its destinations inside its own folder and each named once."""
    if not manifest.is_file() and manifest.with_suffix(".undone.jsonl").is_file():
        raise SiamkitError(f"{manifest} was undone already ({manifest.with_suffix('.undone.jsonl').name})")
    if not manifest.is_file():
        raise SiamkitError(f"manifest {manifest} does not exist (`train duplicates --action move` writes "
                           f"{MANIFEST} in its --to folder)")
    try:
        lines = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        if lines[0].get("format") != FORMAT:
            raise ValueError("not a move manifest")
        entries = [(Path(entry["source"]), Path(entry["destination"]), entry.get("sha256"))
                   for entry in lines[1:]]
    except (ValueError, KeyError, IndexError, AttributeError, TypeError) as error:
        raise SiamkitError(f"{manifest} is not a siamkit move manifest ({error})") from None
    problem = _manifest_problem(manifest, lines[0].get("moves"), entries)
    if problem:
        raise SiamkitError(f"{manifest} {problem}, so it was edited or damaged; nothing was moved back. "
                           "Move the files back by hand")
    return entries


def _manifest_problem(manifest: Path, count: object, entries: list[tuple[Path, Path, str | None]]) -> str:
    folder = manifest.parent.resolve()
    if count != len(entries):
        return f"lists {counted(len(entries), 'move')} where its header says {count}"
    for names, what in ((sorted(str(e[0]) for e in entries), "source"),
                        (sorted(str(e[1]) for e in entries), "destination")):
        repeated = next((a for a, b in zip(names, names[1:]) if a == b), None)
        if repeated:
            return f"names the {what} {repeated} twice"
    outside = next((d for _, d, _ in entries
                    if not d.is_absolute() or not d.parent.resolve().is_relative_to(folder)), None)
    return f"has a destination {outside} outside its own folder {folder}" if outside else ""


def _digest(path: Path) -> str:
    """sha256 of the file's bytes; of a symbolic link, of where it points (moved, it may dangle)."""
    if path.is_symlink():
        return hashlib.sha256(os.readlink(path).encode(errors="surrogateescape")).hexdigest()
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(source, target)  # atomic on one file system
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        # a file name holds at most 255 bytes: a long one is cut short here (one move at a time)
        partial = target.with_name(f".{target.name.encode()[:200].decode(errors='ignore')}.partial")
        try:
            shutil.copy2(source, partial, follow_symlinks=False)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        try:
            source.unlink()
        except BaseException:
            target.unlink()  # not moved after all: a copy left behind would stop the manifest's undo
            raise
