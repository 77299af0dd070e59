"""One record of an unusable image, the same in JSON, CSV and HTML, from every stage."""

from __future__ import annotations

import csv

from siamkit.data.bad_images import BadImage, write_csv
from siamkit.errors import ImageLoadError
from siamkit.pages import write_page


def test_a_bad_image_reads_back_what_it_writes_and_older_records():
    bad = BadImage.of(ImageLoadError("a <b>.png", "truncated"))
    assert bad == BadImage("a <b>.png", "truncated") == BadImage.from_dict(bad.to_dict())
    assert BadImage.from_dict({"file": "x.png", "error": "not an image"}) == BadImage("x.png", "not an image")


def test_csv_and_html_carry_the_same_two_fields(tmp_path):
    records = [BadImage("a <b>.png", "truncated"), BadImage("c.jpg", "file not found")]
    write_csv(tmp_path / "skipped.csv", records)
    with open(tmp_path / "skipped.csv", newline="") as handle:
        assert [BadImage(**row) for row in csv.DictReader(handle)] == records
    write_page(tmp_path / "page.html", "leaks.html", heading="leaks", leaks=[], skipped=records)
    page = (tmp_path / "page.html").read_text()
    assert "<h2>2 files skipped</h2>" in page and "<li>a &lt;b&gt;.png: truncated</li>" in page
    write_page(tmp_path / "page.html", "leaks.html", heading="leaks", leaks=[], skipped=[])
    assert "skipped" not in (tmp_path / "page.html").read_text()
