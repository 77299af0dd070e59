"""Progress that reads well where it goes: a redrawn bar on a terminal or in a notebook; in a log
file or a pipe (``train embed ... > log``, CI), a plain line every half-minute of long work.

tqdm redraws its bar in place with carriage returns, which a log keeps: one line growing with
every update, and the next output glued to its end. Its ``disable=None`` drops the bar there, and
with it every sign that hours of embedding are moving.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

#: how often a log gets a line, and how long work must last before it gets any
LOG_EVERY_S = 30.0


def bars_redraw(stream: Any = None) -> bool:
    """Whether ``stream`` (stderr unless given) shows a bar redrawn in place: a terminal, or a
    Jupyter notebook."""
    return (stream or sys.stderr).isatty() or "ipykernel" in sys.modules


def progress_bar(iterable: Any = None, **options: Any) -> tqdm:
    """``tqdm(iterable, **options)`` where bars redraw; otherwise its lines, every ``LOG_EVERY_S``."""
    if bars_redraw():
        return tqdm(iterable, **options)
    return tqdm(iterable, file=_Lines(sys.stderr), mininterval=LOG_EVERY_S, delay=LOG_EVERY_S, ascii=True,
                ncols=80, **options)


class _Lines:
    """A stream for tqdm that turns each redraw into a line and drops its erasures."""

    def __init__(self, stream: Any):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()  # an erasure is "\r", spaces, "\r"
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()
