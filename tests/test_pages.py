"""Every page comes from a template on one skeleton, with whatever a file name holds escaped."""

from pathlib import Path

import numpy as np
from PIL import Image

from siamkit.data.bad_images import BadImage
from siamkit.pages import write_page
from siamkit.retrieval.duplicate_pages import write_leaks


def test_file_names_cannot_write_markup_into_a_page(tmp_path: Path):
    hostile = tmp_path / "<script>alert(1).png"
    other = tmp_path / "b&'\".png"
    for path in (hostile, other):
        Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(path)
    leak = type("Leak", (), {"a": str(hostile), "split_a": "train", "b": str(other), "split_b": "<i>test</i>",
                             "similarity": 0.5})
    write_leaks(tmp_path / "out", [leak], "a title with <b>markup</b>",
                [BadImage("<img src=x>", "<b>why</b>")])
    page = (tmp_path / "out" / "leaks.html").read_text()
    assert "<script>" not in page and "<b>" not in page and "<i>" not in page and "<img src=x>" not in page
    assert "&lt;script&gt;alert(1).png" in page and "b&amp;&#39;&#34;.png" in page
    assert page.count('<img class="thumb"') == 2 and page.count("data:image/png;base64,") == 2


def test_every_page_shares_the_skeleton(tmp_path: Path):
    pages = {"leaks.html": {"leaks": []}, "duplicates.html": {"groups": []}, "matches.html": {"queries": []}}
    for template, context in pages.items():
        write_page(tmp_path / template, template, heading="H", skipped=[BadImage("x.png", "gone")], **context)
        page = (tmp_path / template).read_text()
        assert page.startswith("<!DOCTYPE html>") and "<title>siamkit: H</title>" in page
        assert "<h1>H</h1>" in page and "<li>x.png: gone</li>" in page


def test_a_page_that_shows_part_of_its_csv_says_so(tmp_path: Path):
    """duplicates.html showed its first 200 groups (50 images each) under a heading that counted
    them all, with no word that duplicates.csv held the rest."""
    from siamkit.retrieval.duplicate_pages import write_groups
    from siamkit.retrieval.grouping import Group

    image = tmp_path / "a.png"
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(image)
    groups = [Group([0, 0], [1.0, 1.0], "same bytes") for _ in range(200)] + [Group([0] * 51, [1.0] * 51, "")]
    write_groups(tmp_path / "many", [str(image)], groups, [(0, "")] * 201, "t")
    assert ("This page shows the first 200 of 201 groups. duplicates.csv lists everything."
            in (tmp_path / "many" / "duplicates.html").read_text())
    write_groups(tmp_path / "large", [str(image)], groups[-1:], [(0, "")], "t")
    assert ("A group of more than 50 images shows its first 50. duplicates.csv lists everything."
            in (tmp_path / "large" / "duplicates.html").read_text())
    write_groups(tmp_path / "few", [str(image)], groups[:2], [(0, "")] * 2, "t")
    assert "This page shows" not in (tmp_path / "few" / "duplicates.html").read_text()
