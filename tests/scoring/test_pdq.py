from __future__ import annotations

import numpy as np
from PIL import Image

from siamkit.scoring.registry import get_scorer


def _jpeg(image: np.ndarray, tmp_path, quality: int = 60) -> str:
    path = tmp_path / f"copy{quality}.jpg"
    Image.fromarray(image).save(path, quality=quality)
    return str(path)


def test_pdq_matches_a_recompressed_copy_and_not_another_photograph(photos, tmp_path):
    pdq = get_scorer("pdq")
    astronaut = photos["astronaut"]
    copy = pdq.score(astronaut, _jpeg(astronaut, tmp_path))
    other = pdq.score(astronaut, photos["coffee"])
    assert copy >= pdq.match_similarity > other
    assert pdq.score(astronaut, astronaut) == 1.0


def test_pdq_dihedral_matches_turns_and_mirror_images(photos):
    from skimage import data

    plain, dihedral = get_scorer("pdq"), get_scorer("pdq:dihedral")
    image = data.chelsea()  # whole: a small crop loses too much to the 64 x 64 resampling
    for turned in (np.rot90(image), np.rot90(image, 2), np.rot90(image, 3), np.fliplr(image),
                   np.flipud(image)):
        turned = turned.copy()
        assert dihedral.score(image, turned) >= dihedral.match_similarity
        assert dihedral.score(turned, image) >= dihedral.match_similarity
        assert plain.score(image, turned) < plain.match_similarity
    assert dihedral.score(image, photos["rocket"]) < dihedral.match_similarity
