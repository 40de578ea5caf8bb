"""DiffAugment built-ins (issue 9): registered through register_augmentations, differentiable, one draw
per image, shape-preserving, and able to be searched as train.augment."""

import pytest
import torch

import gansearch
from gansearch.builtin.augment import color, cutout, translation
from gansearch.plugins import load_registry, make_policy, policy_names
from gansearch.study import prepare


@pytest.mark.parametrize("augment", [color, translation, cutout])
def test_each_augmentation_keeps_shape_lets_gradients_through_and_draws_per_image(augment):
    torch.manual_seed(0)
    x = (torch.rand(16, 3, 8, 8) * 2 - 1).requires_grad_(True)
    y = augment(x)
    assert y.shape == x.shape
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    same = torch.rand(1, 3, 8, 8).expand(16, -1, -1, -1)
    out = augment(same)
    assert not all(torch.equal(out[0], out[i]) for i in range(1, 16))  # not one draw for the whole batch


def test_translation_shifts_content_and_fills_with_zero():
    torch.manual_seed(1)
    x = torch.ones(64, 1, 8, 8)
    y = translation(x)
    shifted = (y == 0).flatten(1).any(1)
    assert shifted.float().mean() > 0.5 and set(y.unique().tolist()) <= {0.0, 1.0}


def test_cutout_zeroes_a_square_of_half_the_side_inside_or_at_the_border():
    torch.manual_seed(2)
    y = cutout(torch.ones(64, 1, 8, 8))
    zeros = (y == 0).flatten(1).sum(1)
    assert zeros.max() == 16 and zeros.min() >= 4  # a 4x4 hole, partly outside at the border


def test_augmentations_are_registered_through_the_hook_and_composed_by_name():
    registry = load_registry(entry_points=False)
    assert {"color", "translation", "cutout"} <= set(registry.augmentations)
    assert policy_names("none") == [] and make_policy("none", registry) is None
    policy = make_policy("translation, cutout", registry)
    assert policy(torch.ones(4, 3, 8, 8)).shape == (4, 3, 8, 8)


def test_a_plugin_adds_an_augmentation_a_study_can_search(tmp_path):
    plugin = tmp_path / "flip_aug.py"
    plugin.write_text(
        "import gansearch\n"
        "@gansearch.hookimpl\n"
        "def register_augmentations(register):\n"
        "    register(gansearch.Augmentation('vflip', lambda x: x.flip(-2), 'flip upside down'))\n")
    study = tmp_path / "s.yaml"
    study.write_text(f"name: s\nplugins: [{plugin.name}]\ndata: {{name: digits, resolution: 8}}\n"
                     "generator: {blocks: [deconv]}\ndiscriminator: {blocks: [conv]}\n"
                     "train: {augment: [none, 'vflip,cutout']}\n")
    prepared = prepare(study, load_data=False)
    assert "vflip" in prepared.registry.augmentations
    study.write_text(study.read_text().replace("vflip,cutout", "vflop"))
    with pytest.raises(gansearch.StudyConfigError, match="unknown augmentation 'vflop'"):
        prepare(study, load_data=False)
