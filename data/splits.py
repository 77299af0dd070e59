"""A run's splits, recorded once and reproduced by one function.

``SplitRecord`` says how a source was split (source, root, kind, fractions, seed) and holds a
digest of the assignment it gave: which image, pair or class member went to train, val and
test. ``split_source`` is the one way siamkit reads a source split: training, ``train
evaluate``, ``train export`` and ``train leaks`` all call it, and when the record they pass
carries a digest, a source that no longer splits the same way (images added, removed or
relabelled since training) is refused, since its val and test splits could then hold images
the model was trained on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from siamkit.data.demo import DEMO_PREFIX, resolve_source
from siamkit.data.sources import (
    DEFAULT_SPLIT_FRACTIONS,
    SPLITS,
    ClassSet,
    DataSet,
    PairSet,
    SourceKind,
    check_split_fractions,
    read_source,
)
from siamkit.data.tables import TABLE_SUFFIXES, read_table
from siamkit.errors import SiamkitError
from siamkit.file_writes import write_whole

#: the run folder's record of its splits
SPLITS_FILE = "splits.json"


class SplitMismatch(SiamkitError):
    """A source that no longer splits as it did when a model was trained on it."""


@dataclass(frozen=True)
class SplitRecord:
    """How a source was split. ``kind`` is what was read (pairs, classes, images; ``auto``
    before the source is read); ``digest`` (sha256 of the assignment) and ``counts`` (items per
    split) are None in a record made before reading, or written before siamkit recorded them."""

    source: str
    root: Optional[str] = None
    kind: str = "auto"
    fractions: tuple[float, float, float] = DEFAULT_SPLIT_FRACTIONS
    seed: int = 0
    digest: Optional[str] = None
    counts: Optional[dict[str, int]] = None
    #: files with the same bytes under two names go to one split; records written before siamkit
    #: kept them so read False, and reproduce their splits as they were
    copies_together: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SplitRecord":
        """Also reads the shape encoder cards had before digests (``split_fractions``,
        ``split_seed``, missing values meaning the defaults)."""
        values = dict(values)
        fractions = values.pop("split_fractions", None) or values.pop("fractions", None)
        seed = values.pop("split_seed", None)
        seed = values.pop("seed", 0) if seed is None else seed
        values.setdefault("copies_together", False)
        return cls(**values, fractions=tuple(fractions or DEFAULT_SPLIT_FRACTIONS), seed=int(seed or 0))

    def write(self, folder: Path) -> Path:
        path = folder / SPLITS_FILE
        write_whole(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, path: Path) -> "SplitRecord":
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise SiamkitError(f"{path} is not a siamkit split record ({type(error).__name__}: {error})"
                               ) from None

    def sizes(self) -> str:
        """Items per split, as "80/10/10 train/val/test" ("?" where not recorded)."""
        return "/".join(str(self.counts[s]) for s in SPLITS) + " train/val/test" if self.counts else "?"

    def same_source(self, other: "SplitRecord") -> bool:
        return _location(self.source) == _location(other.source)


def split_source(record: SplitRecord) -> tuple[DataSet, SplitRecord]:
    """Reads and splits ``record``'s source; returns the data and the record of what was read.

    Raises ``SplitMismatch`` when ``record`` carries a digest that the assignment no longer has.
    """
    data = read_source(resolve_source(record.source), root=record.root, kind=record.kind,  # type: ignore[arg-type]
                       fractions=record.fractions, seed=record.seed, copies_together=record.copies_together)
    made = dataclasses.replace(record, source=recorded_location(record.source),
                               root=record.root and str(Path(record.root).expanduser().resolve()),
                               kind=_kind_of(data), fractions=check_split_fractions(record.fractions),
                               digest=assignment_digest(data),
                               counts={s: int((data.split == s).sum()) for s in SPLITS})
    check_same_splits(record, made)
    return data, made


def has_split_column(source: str) -> bool:
    """Whether ``source`` is a table with a ``split`` column, which decides its splits whatever
    the fractions and seed say."""
    location = resolve_source(source)
    return (location.is_file() and location.suffix.lower() in TABLE_SUFFIXES
            and "split" in read_table(location, rows=1).columns)


def check_same_splits(recorded: SplitRecord, now: SplitRecord, what: str = "the model") -> None:
    """Refuses, in one line, ``now`` where it splits ``recorded``'s source otherwise: other
    fractions or seed, or (both digests known) another assignment. Another source is no mismatch."""
    if not recorded.same_source(now):
        return
    if (recorded.fractions, recorded.seed) != (now.fractions, now.seed):
        raise SplitMismatch(
            f"{what} was trained on {recorded.source} split {list(recorded.fractions)} with seed "
            f"{recorded.seed}, but this splits it {list(now.fractions)} with seed {now.seed}: its val and "
            "test splits would hold training images. Use the recorded split settings")
    if recorded.digest and now.digest and recorded.digest != now.digest:
        raise SplitMismatch(
            f"{recorded.source} no longer splits as when {what} was trained on it (then "
            f"{recorded.sizes()}, digest {recorded.digest[:12]}; now {now.sizes()}, digest "
            f"{now.digest[:12]}): images were added, removed or relabelled since, so val and test may "
            "hold training images. Restore the data as it was, or train again on it as it is")


def assignment_digest(data: DataSet) -> str:
    """sha256 of the sorted lines ``split, item`` (an item: a pair with its label, an image with
    its class, or an image), so the same assignment gives the same digest on any machine."""
    if isinstance(data, PairSet):
        items = [f"{a}\t{b}\t{label}" for a, b, label in zip(data.a, data.b, data.label)]
    elif isinstance(data, ClassSet):
        items = [f"{path}\t{data.class_names[label]}" for path, label in zip(data.path, data.label)]
    else:
        items = [str(path) for path in data.path]
    lines = sorted(f"{split}\t{item}" for split, item in zip(data.split, items))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _kind_of(data: DataSet) -> SourceKind:
    return "pairs" if isinstance(data, PairSet) else "classes" if isinstance(data, ClassSet) else "images"


def _location(source: str) -> Path:
    return resolve_source(source).resolve()


def recorded_location(source: str) -> str:
    """A bundled set by name; a path absolute, so that a model's record of its splits is known from
    any working folder (a relative one, read elsewhere, named other data and its splits went unused)."""
    return source if source.startswith(DEMO_PREFIX) else str(_location(source))
