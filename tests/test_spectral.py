"""Spectral fidelity (issue 18): ``spectrum`` and ``checkerboard``, calibrated on held-out real data with a
transposed convolution's checkerboard pattern added at growing amplitude, on digits 16x16 and shapes 32x32."""

import pytest
import torch
import yaml

from gansearch.builtin.spectral import RadialSpectrum, checkerboard, peaks_and_neighbours, power_spectrum
from gansearch.nets import build_pair
from gansearch.plugins import Features
from gansearch.score import checker_pattern, degradation_scores, parse_column
from gansearch.study import prepare

STUDIES = {
    "digits16": {"name": "digits", "resolution": 16},
    "shapes32": {"name": "shapes", "resolution": 32, "count": 2048},
}
AMPLITUDES = (0.05, 0.1, 0.2, 0.4)  # images in [-1, 1]: 0.05 is 2.5% of the range
BLUR_AND_NOISE = ("blur1.0", "blur2.0", "noise0.1", "noise0.2")
METRICS = ("spectrum", "checkerboard")


@pytest.fixture(scope="module", params=sorted(STUDIES))
def scores(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param) / "study.yaml"
    path.write_text(yaml.safe_dump({"name": request.param, "data": STUDIES[request.param],
                                    "generator": {"blocks": ["deconv"]}, "discriminator": {"blocks": ["conv"]},
                                    "score": {"samples": 512}}))
    prepared = prepare(path)
    columns = [parse_column(m, "layout", prepared.registry, True, str(path), "score.metrics") for m in METRICS]
    names = ("real", *(f"checker{a}" for a in AMPLITUDES), *BLUR_AND_NOISE)
    return degradation_scores(prepared, names, columns)


def table(scores) -> str:
    return "\n".join(f"{n:<12}" + "".join(f"{m} {r[m]:.4g} ± {r[m + '_se']:.2g}   " for m in METRICS)
                     for n, r in scores.items())


@pytest.mark.parametrize("metric", METRICS)
def test_a_checkerboard_pattern_scores_worse_the_stronger_it_is_and_clearly_from_a_small_amplitude(scores, metric):
    values = [scores["real"][metric]] + [scores[f"checker{a}"][metric] for a in AMPLITUDES]
    assert values == sorted(values) and len(set(values)) == len(values), table(scores)
    real, real_se = scores["real"][metric], scores["real"][f"{metric}_se"]
    for a in AMPLITUDES:
        row = scores[f"checker{a}"]
        assert row[metric] - real > 2 * (row[f"{metric}_se"] ** 2 + real_se**2) ** 0.5, (a, table(scores))


def test_blur_and_noise_move_checkerboard_far_less_than_spectrum(scores):
    def moved(metric, name):  # as a share of what the strongest checkerboard pattern moves it
        strongest = scores[f"checker{AMPLITUDES[-1]}"][metric] - scores["real"][metric]
        return (scores[name][metric] - scores["real"][metric]) / strongest

    for name in BLUR_AND_NOISE:
        assert moved("checkerboard", name) < moved("spectrum", name) / 3, (name, table(scores))


def test_the_checkerboard_pattern_is_a_stride_2_overlap_pattern():
    pattern = checker_pattern(6)
    assert pattern.shape == (6, 6) and abs(float(pattern.mean())) < 1e-6 and float(pattern.abs().max()) == 1
    assert torch.equal(pattern[:2, :2], pattern[2:4, 4:6])  # period 2 in both directions


def test_a_layers_frequencies_are_the_multiples_of_the_side_it_enlarges():
    peaks, neighbours, real = peaks_and_neighbours(8, 4)
    half = 8 // 2 + 1
    assert sorted((int(p) // half, int(p) % half) for p in peaks) == [(0, 4), (4, 0), (4, 4)]
    lattice = set(peaks.tolist()) | {0}
    assert not lattice & set(neighbours[real].tolist()) and real.sum(1).min() >= 3


def test_the_metric_looks_where_the_generators_upsampling_layers_put_their_patterns():
    """A pattern of period 4 in a 16x16 image comes from a layer that enlarges 4x4 maps: the default (a
    stride-2 layer into the final size) does not look there; a generator that has such a layer does."""
    g = torch.Generator().manual_seed(0)
    real = torch.rand(256, 1, 16, 16, generator=g) * 0.2 - 0.1
    wave = torch.cos(torch.arange(16) * torch.pi / 2)  # period 4
    fake = torch.rand(256, 1, 16, 16, generator=g) * 0.2 - 0.1 + 0.05 * (wave.view(1, -1) + wave.view(-1, 1))
    spectra = lambda x, source=None: Features(power_spectrum(x).flatten(1).double(), source=source)  # noqa: E731
    assert checkerboard(spectra(real), spectra(fake)) < 0.1
    assert checkerboard(spectra(real), spectra(fake, {"upsampling": ((4, 2), (8, 2))})) > 1.0


def test_a_generator_tells_the_scorer_which_layers_upsample(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "data": STUDIES["digits16"], "generator": {"blocks": ["deconv"]},
                                    "discriminator": {"blocks": ["conv"]}}))
    prepared = prepare(path)
    g, _ = build_pair(prepared.baseline.arch, prepared.registry, 0)
    assert g.upsampling == ((4, 2), (8, 2))  # DCGAN at 16x16: 4 -> 8 -> 16


def test_the_radial_spectrum_keeps_the_corner_where_a_diagonal_checkerboard_shows():
    flat = torch.zeros(1, 1, 8, 8)
    diagonal = flat + torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(4, 4)
    profile = RadialSpectrum()(diagonal)[0]
    assert profile.shape == (6,)  # radii 1..6: the corner (4, 4) is at 5.66
    assert int(profile.argmax()) == 5 and float(profile[:5].abs().max()) == 0
