"""The default objective ranks known degradations of real data the way a person would (issue: scores
you can trust). Each degradation must be clearly worse than held-out real data, noise and blur
monotone, and the whole ranking close to the intended one (Kendall tau >= 0.9)."""

import pytest
import yaml

from gansearch.calibration import INTENDED, calibrate, degrade, kendall_tau
from gansearch.study import prepare

STUDIES = {
    "digits16": {"data": {"name": "digits", "resolution": 16}},
    "shapes32": {"data": {"name": "shapes", "resolution": 32, "count": 2048}},
}


@pytest.fixture(scope="module", params=sorted(STUDIES))
def calibration(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param) / "study.yaml"
    path.write_text(yaml.safe_dump({"name": request.param, **STUDIES[request.param],
                                    "generator": {"blocks": ["deconv"]}, "discriminator": {"blocks": ["conv"]},
                                    "score": {"samples": 512}}))
    return calibrate(prepare(path))  # the default score: layout features, Fréchet distance


def test_every_degradation_is_clearly_worse_than_held_out_real_data(calibration):
    assert [name for name, _, _ in calibration.rows] == list(INTENDED)
    assert calibration.unclear == [], calibration.table()


def test_noise_and_blur_are_monotone(calibration):
    assert calibration.not_monotone == [], calibration.table()


def test_the_ranking_matches_the_intended_order(calibration):
    assert calibration.tau >= 0.9, calibration.table()


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
