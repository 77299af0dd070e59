"""What `train duplicates` and `train leaks` write: a CSV to act on and an HTML page to look at
(thumbnails per group, per query or per leaking pair, then the files that were skipped and
why)."""

from __future__ import annotations

import csv
import html
from pathlib import Path

from siamkit.data.bad_images import BadImage, html_section
from siamkit.pages import thumbnail
from siamkit.retrieval.grouping import Group

STYLE = ("body{font-family:system-ui,sans-serif;margin:2em} figure{display:inline-block;margin:4px;"
         "text-align:center;vertical-align:top} figcaption{font-size:11px;max-width:110px;overflow:hidden} "
         ".keep{outline:3px solid #2a7} .why{color:#555;font-size:13px}")


def write_groups(out: Path, files: list[str], groups: list[Group], kept: list[tuple[int, str]], title: str,
                 skipped: list[BadImage] = ()) -> None:
    """duplicates.csv: group, file, representative, similarity (to the representative), keep, why."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "duplicates.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["group", "file", "representative", "similarity", "keep", "why"])
        for number, (group, (keep, keep_why)) in enumerate(zip(groups, kept)):
            for k, (member, score) in enumerate(zip(group.members, group.similarity)):
                why = "; ".join(text for text, applies in ((group.reason, k == 0), (keep_why, k == keep))
                                if applies)
                writer.writerow([number, files[member], "yes" if k == 0 else "no", f"{score:.4f}",
                                 "yes" if k == keep else "no", why])
    sections = "".join(_group_section(number, group, keep, keep_why, files)
                       for number, (group, (keep, keep_why)) in enumerate(zip(groups[:200], kept)))
    _page(out / "duplicates.html", f"{len(groups)} groups of near-duplicates ({html.escape(title)})",
          sections, skipped)


def write_matches(out: Path, files: list[str], rows: list[tuple], title: str,
                  skipped: list[BadImage] = ()) -> None:
    """matches.csv: query, reference, similarity, stage (same bytes, same pixels, or the method)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "matches.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query", "reference", "similarity", "stage"])
        for query, reference, score, stage in rows:
            writer.writerow([files[query], files[reference], f"{score:.4f}", stage])
    by_query: dict[int, list[tuple]] = {}
    for query, reference, score, stage in rows:
        by_query.setdefault(query, []).append((reference, score, stage))
    sections = "".join(
        f"<h2>{html.escape(Path(files[query]).name)}: {len(found)} in the reference set</h2><div>"
        f"{_figure(files[query], 'query', True)}"
        + "".join(_figure(files[r], f"{score:.3f} ({stage})") for r, score, stage in found[:20]) + "</div>"
        for query, found in list(by_query.items())[:500])
    _page(out / "matches.html", f"{len(by_query)} query images with copies in the reference set "
          f"({html.escape(title)})", sections, skipped)


def write_leaks(out: Path, leaks: list, title: str, skipped: list[BadImage] = ()) -> None:
    """leaks.csv: a, split_a, b, split_b, similarity; leaks.html: the pairs side by side."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "leaks.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "split_a", "b", "split_b", "similarity"])
        for leak in leaks:
            writer.writerow([leak.a, leak.split_a, leak.b, leak.split_b, f"{leak.similarity:.4f}"])
    sections = "".join(f"<div>{_figure(leak.a, leak.split_a)}{_figure(leak.b, leak.split_b)}"
                       f"<span class='why'>{leak.similarity:.3f}</span></div>" for leak in leaks[:500])
    _page(out / "leaks.html", f"{len(leaks)} near-duplicate pairs across splits ({html.escape(title)})",
          sections, skipped)


def _group_section(number: int, group: Group, keep: int, keep_why: str, files: list[str]) -> str:
    figures = "".join(
        _figure(files[m], ("representative, " if k == 0 else "") + f"{s:.3f}", k == keep)
        for k, (m, s) in enumerate(zip(group.members[:50], group.similarity)))
    return (f"<h2>group {number} ({len(group.members)} images)</h2><p class='why'>representative: "
            f"{html.escape(group.reason)}; kept: {html.escape(keep_why)}</p><div>{figures}</div>")


def _figure(path: str, caption: str, keep: bool = False) -> str:
    return (f"<figure{' class=keep' if keep else ''}>{thumbnail(path)}<figcaption>"
            f"{html.escape(Path(path).name)}<br>{html.escape(caption)}</figcaption></figure>")


def _page(path: Path, heading: str, sections: str, skipped: list[BadImage]) -> None:
    path.write_text("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>siamkit"
                    f"</title><style>{STYLE}</style></head><body><h1>{heading}</h1>{sections}"
                    f"{html_section(list(skipped))}</body></html>\n")
