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
