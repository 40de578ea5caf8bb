"""The default objective ranks known degradations of real data the way a person would (issue 6: scores
you can trust), on digits 16x16 and shapes 32x32 with 512 samples: Kendall tau >= 0.9 against the intended
order, and every degradation clearly worse than held-out real data.

Orientation changes (a left-right flip, a 180 degree rotation) are outside the order (issue 18): what they
cost depends on the data (a flip changes every digit but only 4 of 10 shapes), yet they must be clearly
worse than real data on every dataset.
"""

import pytest
import yaml

from gansearch.score import INTENDED, ORIENTATION, calibrate, degrade, kendall_tau
from gansearch.study import prepare

STUDIES = {
    "digits16": {"data": {"name": "digits", "resolution": 16}},
    "shapes32": {"data": {"name": "shapes", "resolution": 32, "count": 2048}},
}
LIGHT = ("noise0.05", "noise0.1", "blur0.5")  # light noise and light blur
MODE_DROPPING = ("classes5", "classes3", "classes1", "repeat1")


@pytest.fixture(scope="module", params=sorted(STUDIES))
def calibration(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param) / "study.yaml"
    path.write_text(yaml.safe_dump({"name": request.param, **STUDIES[request.param],
                                    "generator": {"blocks": ["deconv"]}, "discriminator": {"blocks": ["conv"]},
                                    "score": {"samples": 512}}))
    return calibrate(prepare(path))  # the default score: layout features, Fréchet distance


def scores(calibration):
    return {name: value for name, value, _ in calibration.rows}


def test_noise_and_blur_are_monotone(calibration):
    assert [name for name, _, _ in calibration.rows] == list(INTENDED)
    assert calibration.not_monotone == [], calibration.table()


def test_mode_dropping_counts_as_worse_than_light_noise_or_light_blur(calibration):
    s = scores(calibration)
    assert min(s[m] for m in MODE_DROPPING) > max(s[light] for light in LIGHT), calibration.table()
    assert s["classes1"] > s["blur1.0"] and s["classes3"] > s["classes5"], calibration.table()


def test_the_ranking_follows_the_intended_order_with_tau_at_least_0_9(calibration):
    assert calibration.tau >= 0.9, calibration.table()


def test_every_degradation_and_orientation_change_is_clearly_worse_than_held_out_real_data(calibration):
    assert [name for name, _, _ in calibration.extra] == list(ORIENTATION)
    assert "fliplr" not in INTENDED and "rot180" not in INTENDED
    assert calibration.unclear == [], calibration.table()  # two standard errors, orientation included


def test_kendall_tau_counts_swapped_pairs():
    assert kendall_tau([1, 2, 3, 4]) == 1 and kendall_tau([4, 3, 2, 1]) == -1
    assert kendall_tau([1, 3, 2, 4]) == pytest.approx(1 - 2 / 6)


def test_degradations_do_what_their_names_say():
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.rand(20, 1, 8, 8, generator=g) * 2 - 1
    labels = torch.arange(20) % 10
    assert torch.equal(degrade("fliplr", x, labels, x, labels, g), x.flip(-1))
    assert (degrade("repeat1", x, labels, x, labels, g) == x[:1]).all()
    kept = degrade("classes3", x, labels, x, labels, g)
    assert all(any(torch.equal(k, x[i]) for i in range(20) if labels[i] < 3) for k in kept)
    blurred = degrade("blur1.0", x, labels, x, labels, g)
    assert blurred.std() < x.std() and blurred.mean().item() == pytest.approx(x.mean().item(), abs=0.05)
    assert degrade("constant", x, labels, x, labels, g).flatten(2).std(2).max() == 0


def test_the_old_texture_score_fails_what_the_default_passes(tmp_path):
    """The audit's finding, kept as a test: texture features rank blur as worse than mode collapse."""
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"name": "t", **STUDIES["digits16"], "generator": {"blocks": ["deconv"]},
                                    "discriminator": {"blocks": ["conv"]},
                                    "score": {"samples": 512, "extractor": "texture"}}))
    s = scores(calibrate(prepare(path)))
    assert s["blur2.0"] > s["classes1"]  # blind to mode dropping, as the audit found
