"""Reading a data table (CSV, JSONL, Parquet) and the checks of its rows that need no images:
an empty image cell or a URL named by its row and column, a pair listed twice or labelled both ways."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from siamkit.data.images import is_url
from siamkit.errors import SiamkitError
from siamkit.wording import counted

log = logging.getLogger(__name__)
TABLE_SUFFIXES = {".csv", ".jsonl", ".parquet"}


def read_table(path: Path, rows: int | None = None) -> pd.DataFrame:
    """The table, or its first ``rows`` rows (a Parquet file: its columns, with no rows)."""
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise SiamkitError(f"{path}: unknown table format {suffix!r}; use one of {sorted(TABLE_SUFFIXES)}")
    try:
        if suffix == ".csv":
            return _read_csv(path, rows)
        if suffix == ".parquet":
            if rows is not None:
                import pyarrow.parquet

                return pyarrow.parquet.read_schema(path).empty_table().to_pandas()
            return pd.read_parquet(path)
        table = pd.read_json(path, lines=True, dtype=False, nrows=rows)
    except UnicodeDecodeError as error:  # a spreadsheet's "Unicode text" (UTF-16), or a Windows code page
        byte = error.object[error.start]
        raise SiamkitError(f"cannot read table {path}: it is not UTF-8 text (byte {byte:#04x} at position "
                           f"{error.start}); save it as UTF-8 (a spreadsheet's \"CSV UTF-8\")") from None
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise SiamkitError(f"cannot read table {path}: {error}") from None
    if not all(isinstance(column, str) for column in table.columns):  # e.g. one JSON array
        raise SiamkitError(f"{path} is not JSON Lines: write one JSON object per line, such as "
                           '{"a": "x.jpg", "b": "y.jpg", "label": 1}')
    return table


def kind_of_columns(columns: set[str]) -> str:
    """What a table holds, by its columns: labelled pairs, class-labelled images or unlabelled images."""
    return "pairs" if {"a", "b"} <= columns else "classes" if {"path", "label"} <= columns else "images"


def _read_csv(path: Path, rows: int | None = None) -> pd.DataFrame:
    """Comma-separated, or semicolon- or tab-separated as spreadsheets in many locales save a .csv
    (told by a header that is one column holding that separator); spaces around a separator, as
    in a table written by hand ("a , b , label"), are not part of the value or the column's name."""
    options = {"dtype": str, "keep_default_na": False, "skipinitialspace": True, "nrows": rows}
    table = pd.read_csv(path, **options)
    if len(table.columns) == 1:
        separator = next((s for s in (";", "\t") if s in str(table.columns[0])), None)
        if separator:
            table = pd.read_csv(path, sep=separator, **options)
    return table.rename(columns=str.strip).apply(lambda column: column.str.strip())


def check_image_cells(table: pd.DataFrame, columns: list[str], path: Path) -> None:
    """Every image cell names a local file: not empty, and not a URL."""
    for column in columns:
        cells = table[column].astype(str)
        empty = table[column].isna() | (cells.str.strip() == "")
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0])
            raise SiamkitError(f"{path}: row {row + 1} (after the header) has no image in column {column}; "
                               "fill it in or remove the row")
        urls = cells.map(is_url)
        if urls.any():
            row = int(np.flatnonzero(urls.to_numpy())[0])
            raise SiamkitError(
                f"{path}: column {column} holds {counted(int(urls.sum()), 'URL')} (row {row + 1} after the "
                f"header: {cells.iloc[row]}), and siamkit reads local files only (it downloads nothing): "
                "download the images and put their paths in the table")


def same_path(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> np.ndarray:
    """Per row, whether two path cells name one file however spelled (``a.png``, ``./a.png``)."""
    return np.array([os.path.normpath(x) == os.path.normpath(y) for x, y in zip(a, b)], dtype=bool)


def without_repeated_pairs(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A pair listed twice (either way round) is counted once; one labelled both same and
    different, or an image labelled different from itself, is refused."""
    pairs = zip(table["a"].astype(str), table["b"].astype(str))
    key = pd.Series([" | ".join(sorted(pair)) for pair in pairs], index=table.index)
    labels_per_pair = table["label"].groupby(key).nunique()
    if (labels_per_pair > 1).any():
        pair = labels_per_pair.index[labels_per_pair.to_numpy() > 1][0]
        raise SiamkitError(f"{path}: the pair {pair} is labelled both 1 (same) and 0 (different); "
                           "keep the right row")
    itself = same_path(table["a"].astype(str), table["b"].astype(str)) & (table["label"] == 0)
    if itself.any():
        row = table[itself.to_numpy()].iloc[0]
        raise SiamkitError(f"{path}: the pair {row['a']} | {row['b']} is an image with itself, labelled 0 "
                           "(different); fix or remove the row")
    repeated = key.duplicated()
    if repeated.any():
        log.warning("%s: %d pair rows repeat an earlier row (either way round) and are counted once",
                    path, int(repeated.sum()))
    return table[~repeated.to_numpy()].reset_index(drop=True)
