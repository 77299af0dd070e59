"""Near-duplicate groups in an embedded collection: every pair above a similarity threshold
(found in chunks, bounded memory), optionally re-checked with SIFT + RANSAC (the two-stage
set-up of copy-detection systems), joined into groups by connected components."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from tqdm import tqdm

from siamkit.pages import thumbnail


def candidate_pairs(embeddings: np.ndarray, threshold: float, chunk: int = 4096) -> tuple[np.ndarray,
                                                                                          np.ndarray]:
    """(pairs (P, 2) with i < j, similarities (P,)) of every pair scoring >= threshold."""
    found, scores = [], []
    for start in tqdm(range(0, len(embeddings), chunk), desc="finding pairs", unit="chunk", leave=False):
        block = np.asarray(embeddings[start:start + chunk], np.float32) @ np.asarray(embeddings, np.float32).T
        rows, columns = np.nonzero(block >= threshold)
        keep = columns > rows + start
        found.append(np.stack([rows[keep] + start, columns[keep]], 1))
        scores.append(block[rows[keep], columns[keep]])
    return np.concatenate(found).astype(np.int64), np.concatenate(scores).astype(np.float64)


def groups_of(pairs: np.ndarray, count: int) -> list[list[int]]:
    """Connected components with more than one member, largest first."""
    if not len(pairs):
        return []
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(count, count))
    _, component = connected_components(graph, directed=False)
    members: dict[int, list[int]] = {}
    for i in np.unique(pairs):
        members.setdefault(int(component[i]), []).append(int(i))
    return sorted(members.values(), key=lambda g: (-len(g), g[0]))


def write_groups(out: Path, files: list[str], groups: list[list[int]], threshold: float,
                 skipped: list[dict[str, str]] = ()) -> None:
    """duplicates.csv (group, file) and duplicates.html (thumbnails per group, then the files
    that were skipped and why)."""
    out.mkdir(parents=True, exist_ok=True)
    rows = ["group,file"] + [f"{g},{_csv(files[i])}" for g, members in enumerate(groups) for i in members]
    (out / "duplicates.csv").write_text("\n".join(rows) + "\n")
    sections = "".join(_group_section(g, [files[i] for i in members[:50]], len(members))
                       for g, members in enumerate(groups[:200]))
    (out / "duplicates.html").write_text(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>siamkit duplicates</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em} "
        "figure{display:inline-block;margin:4px;text-align:center}"
        "figcaption{font-size:11px;max-width:96px;overflow:hidden}</style></head><body>"
        f"<h1>{len(groups)} groups of near-duplicates (threshold "
        f"{threshold:.4f})</h1>{sections}{_skipped_section(skipped)}</body></html>\n")


def _group_section(number: int, shown: list[str], size: int) -> str:
    figures = "".join(f"<figure>{thumbnail(f)}<figcaption>{html.escape(Path(f).name)}</figcaption></figure>"
                      for f in shown)
    return f"<h2>group {number} ({size} images)</h2><div>{figures}</div>"


def _skipped_section(skipped: list[dict[str, str]]) -> str:
    if not skipped:
        return ""
    rows = "".join(f"<li>{html.escape(entry['file'])}: {html.escape(entry['error'])}</li>"
                   for entry in skipped)
    return f"<h2>{len(skipped)} files skipped</h2><ul>{rows}</ul>"


def _csv(value: str) -> str:
    return f'"{value}"' if "," in value or '"' in value else value
