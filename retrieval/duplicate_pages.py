"""What `train duplicates` and `train leaks` write: a CSV to act on and an HTML page to look at
(thumbnails per group, per query or per leaking pair, then the files that were skipped and
why)."""

from __future__ import annotations

import csv
from pathlib import Path

from siamkit.data.bad_images import BadImage
from siamkit.pages import write_page
from siamkit.retrieval.grouping import Group
from siamkit.wording import counted

#: what a page shows at most; its CSV lists everything
GROUPS, GROUP_IMAGES, QUERIES, MATCHES_A_QUERY, LEAKS = 200, 50, 500, 20, 500


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
    shown = [{"number": number, "size": len(group.members), "reason": group.reason, "keep_why": keep_why,
              "figures": [(files[m], ("representative, " if k == 0 else "") + f"{s:.3f}", k == keep)
                          for k, (m, s) in enumerate(zip(group.members[:GROUP_IMAGES], group.similarity))]}
             for number, (group, (keep, keep_why)) in enumerate(zip(groups[:GROUPS], kept))]
    larger = any(len(group.members) > GROUP_IMAGES for group in groups[:GROUPS])
    write_page(out / "duplicates.html", "duplicates.html", groups=shown, skipped=list(skipped),
               heading=f"{counted(len(groups), 'group')} of near-duplicates ({title})",
               shown=_shown(len(groups), GROUPS, "groups", "duplicates.csv",
                            f"A group of more than {GROUP_IMAGES} images shows its first {GROUP_IMAGES}."
                            if larger else ""))


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
    queries = [(files[query], [(files[r], score, stage) for r, score, stage in found])
               for query, found in list(by_query.items())[:QUERIES]]
    more = any(len(found) > MATCHES_A_QUERY for _, found in queries)
    write_page(out / "matches.html", "matches.html", queries=queries, matches_a_query=MATCHES_A_QUERY,
               skipped=list(skipped),
               heading=f"{len(by_query)} query images with copies in the reference set ({title})",
               shown=_shown(len(by_query), QUERIES, "query images", "matches.csv",
                            f"A query with more than {MATCHES_A_QUERY} copies shows its first "
                            f"{MATCHES_A_QUERY}." if more else ""))


def write_leaks(out: Path, leaks: list, title: str, skipped: list[BadImage] = ()) -> None:
    """leaks.csv: a, split_a, b, split_b, similarity; leaks.html: the pairs side by side."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "leaks.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "split_a", "b", "split_b", "similarity"])
        for leak in leaks:
            writer.writerow([leak.a, leak.split_a, leak.b, leak.split_b, f"{leak.similarity:.4f}"])
    write_page(out / "leaks.html", "leaks.html", leaks=leaks[:LEAKS], skipped=list(skipped),
               heading=f"{counted(len(leaks), 'near-duplicate pair')} across splits ({title})",
               shown=_shown(len(leaks), LEAKS, "pairs", "leaks.csv"))


def _shown(total: int, limit: int, what: str, table: str, capped: str = "") -> str:
    """What a page leaves to its CSV, in a sentence; empty where it shows everything."""
    parts = ([f"This page shows the first {limit:,} of {total:,} {what}."] if total > limit else []) + (
        [capped] if capped else [])
    return " ".join([*parts, f"{table} lists everything."]) if parts else ""
