"""What kind of data a source holds, from a folder's top level or a table's header alone: cheap
enough to check before a command loads its models, where reading the source in full (every row
checked, the images listed) can take seconds."""

from __future__ import annotations

from pathlib import Path

from siamkit.data.listing import is_hidden
from siamkit.data.tables import TABLE_SUFFIXES, kind_of_columns, read_table


def source_kind(location: Path) -> str:
    """"pairs", "classes" or "images", as ``read_source`` reads ``location`` (kind auto); "auto"
    for what it refuses, which reading it says."""
    if location.is_dir():
        subfolders = any(p.is_dir() and not is_hidden(p.name) for p in location.iterdir())
        return "classes" if subfolders else "images"
    if location.suffix.lower() in TABLE_SUFFIXES:
        columns = set(read_table(location, rows=1).columns)
        kind = kind_of_columns(columns)
        return kind if kind != "images" or "path" in columns else "auto"  # reading names the columns
    return "auto"
