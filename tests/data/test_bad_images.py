"""One record of an unusable image, the same in JSON, CSV and HTML, from every stage."""

from __future__ import annotations

import csv

from siamkit.data.bad_images import BadImage, html_section, write_csv
from siamkit.errors import ImageLoadError


def test_a_bad_image_reads_back_what_it_writes_and_older_records():
    bad = BadImage.of(ImageLoadError("a <b>.png", "truncated"))
    assert bad == BadImage("a <b>.png", "truncated") == BadImage.from_dict(bad.to_dict())
    assert BadImage.from_dict({"file": "x.png", "error": "not an image"}) == BadImage("x.png", "not an image")


def test_csv_and_html_carry_the_same_two_fields(tmp_path):
    records = [BadImage("a <b>.png", "truncated"), BadImage("c.jpg", "file not found")]
    write_csv(tmp_path / "skipped.csv", records)
    with open(tmp_path / "skipped.csv", newline="") as handle:
        assert [BadImage(**row) for row in csv.DictReader(handle)] == records
    page = html_section(records)
    assert page.startswith("<h2>2 files skipped</h2>") and "a &lt;b&gt;.png: truncated" in page
    assert html_section([]) == ""
