"""A pairs table of whole photographs that no siamkit demo trains on, under hard edits: a check
that a fine-tuned encoder has not fallen below its start on other subjects, at other framings.

    python scripts/make_whole_photo_pairs.py OUT
    train evaluate --data OUT/pairs.csv --methods histogram,sift,runs/demo_photos/encoder --out DIR

The photographs: the validation and test photographs of ``demo:photos`` (whole, where the demo
scores patches of them) and eight more that packages ship (scikit-image's cell, clock_motion,
logo, microaneurysms, color and phantom; matplotlib's grace_hopper and Minduka_Present_Blue_Pack),
each centre-cropped square at 256 px. Each is paired with four copies under the edits of
``demo:photos-hard`` (crops to a fifth, quarter turns, picture-in-picture, JPEG at quality 5-12)
as matches, and with four copies of other photographs as non-matches: 120 pairs, all ``test``.
`train copies` makes pairs like these of any folder of photographs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import numpy as np
import skimage
from PIL import Image

from siamkit.data.demo import PHOTOS, copy_edits, sample_photograph
from siamkit.data.images import load_image

SIDE = 256
COPIES = 4
MORE = [Path(skimage.__file__).parent / "data" / name for name in
        ("cell.png", "clock_motion.png", "logo.png", "microaneurysms.png", "color.png", "phantom.png")]
MORE += [Path(matplotlib.get_data_path()) / "sample_data" / name
         for name in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png")]


def square(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    side = min(h, w)
    crop = image[(h - side) // 2:(h + side) // 2, (w - side) // 2:(w + side) // 2]
    return np.asarray(Image.fromarray(crop).resize((SIDE, SIDE), Image.BICUBIC))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="a new folder for the images and pairs.csv")
    out = parser.parse_args().out
    if out.exists():
        parser.error(f"{out} exists: name a new folder")
    out.mkdir(parents=True)
    photographs = {Path(f).stem: sample_photograph(f) for f in PHOTOS["val"] + PHOTOS["test"]}
    photographs |= {path.stem: load_image(path) for path in MORE}
    edit = copy_edits("hard", "test", seed=7, size=SIDE)
    for name, image in photographs.items():
        image = square(image)
        Image.fromarray(image).save(out / f"{name}.jpg", quality=95)
        for c in range(COPIES):
            Image.fromarray(edit(image=image)["image"]).save(out / f"{name}_copy{c}.jpg", quality=95)
    rng = np.random.default_rng(7)
    names = list(photographs)
    rows = ["a,b,label,split"]
    for i, name in enumerate(names):
        for c in range(COPIES):
            other = names[(i + 1 + int(rng.integers(len(names) - 1))) % len(names)]
            rows += [f"{name}.jpg,{name}_copy{c}.jpg,1,test",
                     f"{name}.jpg,{other}_copy{int(rng.integers(COPIES))}.jpg,0,test"]
    (out / "pairs.csv").write_text("\n".join(rows) + "\n")
    print(f"wrote {out / 'pairs.csv'}: {len(rows) - 1} pairs of {len(names)} photographs")


if __name__ == "__main__":
    main()
