"""Every example study file in studies/ is valid and runs."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gansearch.study import prepare

STUDIES = Path(__file__).parents[1] / "studies"


@pytest.mark.parametrize("name", ["quickstart.yaml", "shapes32.yaml", "shapes32_pareto.yaml", "superres_digits.yaml",
                                  "colorize_shapes.yaml", "seed_pair.yaml"])
def test_example_study_prepares_with_its_data(name):
    prepared = prepare(STUDIES / name)
    resolution = prepared.config.data.resolution
    assert prepared.data.shape[-2:] == (resolution, resolution)
    if name in ("quickstart.yaml", "shapes32.yaml", "shapes32_pareto.yaml"):
        assert all(len(net.plans) > 1 for net in prepared.space.nets.values())
    else:  # translate studies: the translator's scale plan is searched, the discriminator may be fixed
        assert len(prepared.space.nets["generator"].plans) > 1
        assert prepared.pairs is not None and len(prepared.pairs.held_out) > 0


def test_folder_study_works_once_pointed_at_images(tmp_path):
    shutil.copy(STUDIES / "folder.yaml", tmp_path / "folder.yaml")
    images = tmp_path / "my_images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)).save(images / f"{i}.png")
    prepared = prepare(tmp_path / "folder.yaml")
    assert tuple(prepared.data.shape) == (5, 3, 32, 32)
