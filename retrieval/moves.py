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
import json
import os
import shutil
from pathlib import Path

from tqdm import tqdm

from siamkit.errors import SiamkitError

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


def move_files(files: list[str], root: Path, to: Path) -> Path:
    """Moves ``files`` (below ``root``) to the same relative paths below ``to``; returns the manifest."""
    to.mkdir(parents=True, exist_ok=True)
    manifest = to / MANIFEST
    to, root = to.resolve(), root.resolve()
    moves = [(Path(f).resolve(), to / Path(f).resolve().relative_to(root)) for f in files]
    with open(manifest, "w") as handle:
        handle.write(json.dumps({"format": FORMAT, "moves": len(moves)}) + "\n")
        for source, target in moves:
            handle.write(json.dumps({"source": str(source), "destination": str(target)}) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    for source, target in tqdm(moves, desc="moving", unit="file", leave=False, disable=None):
        _move(source, target)
    return manifest


def undo_moves(manifest: Path) -> int:
    """Moves back what ``manifest`` records as moved; returns how many files moved back."""
    entries = _read_manifest(manifest)
    back = []
    for source, target in entries:
        if target.exists() and not source.exists():
            back.append((target, source))
        elif target.exists() or not source.exists():
            problem = (f"{source} and {target} both exist" if target.exists()
                       else f"{source} is neither there nor at {target}")
            raise SiamkitError(f"{manifest}: {problem}: files have moved since the manifest was written, so "
                               "nothing was undone. Put the file back by hand (or remove its line from the "
                               "manifest) and undo again")
    for target, source in tqdm(back, desc="moving back", unit="file", leave=False, disable=None):
        _move(target, source)
    manifest.rename(manifest.with_suffix(".undone.jsonl"))
    return len(back)


def _read_manifest(manifest: Path) -> list[tuple[Path, Path]]:
    if not manifest.is_file() and manifest.with_suffix(".undone.jsonl").is_file():
        raise SiamkitError(f"{manifest} was undone already ({manifest.with_suffix('.undone.jsonl').name})")
    if not manifest.is_file():
        raise SiamkitError(f"manifest {manifest} does not exist (`train duplicates --action move` writes "
                           f"{MANIFEST} in its --to folder)")
    try:
        lines = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        if lines[0].get("format") != FORMAT:
            raise ValueError("not a move manifest")
        return [(Path(entry["source"]), Path(entry["destination"])) for entry in lines[1:]]
    except (ValueError, KeyError, IndexError, AttributeError) as error:
        raise SiamkitError(f"{manifest} is not a siamkit move manifest ({error})") from None


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(source, target)  # atomic on one file system
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        partial = target.with_name(f".{target.name}.partial")
        shutil.copy2(source, partial)
        os.replace(partial, target)
        source.unlink()
