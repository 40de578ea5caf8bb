"""The DCGAN baseline: its architecture, training values and params inside (or outside) the study's space."""

import shutil
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
import torch
import yaml

from gansearch.errors import StudyConfigError
from gansearch.nets import build_pair
from gansearch.search import Baseline, dcgan_arch, make_baseline
from gansearch.search._baseline import baseline_params, dcgan_train_values
from gansearch.study import prepare

STUDIES = Path(__file__).parents[1] / "studies"
UNEVEN_STEP = pytest.mark.filterwarnings("ignore:The distribution is specified by:UserWarning")  # Optuna trims high


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny networks: one torch thread is fastest, and immune to other processes' load on the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def baseline_of(path):
    prepared = prepare(path, load_data=False)
    return prepared, make_baseline("dcgan", prepared.config, prepared.space)


def layers(net):
    return [(x.block, x.kernel, x.stride, x.out_channels, x.norm, x.activation) for x in net.layers]


def check_builds(prepared, arch):
    """Both networks build and map noise -> (2, C, R, R) images -> (2,) logits."""
    g, d = build_pair(arch, prepared.registry, 0)
    g.eval(), d.eval()
    with torch.no_grad():
        images = g(torch.randn(2, arch.latent_dim))
        assert images.shape == (2, arch.channels, arch.resolution, arch.resolution)
        assert d(images).shape == (2,)


def check_round_trip(space, b: Baseline):
    arch, train = space.suggest(optuna.trial.FixedTrial(b.params), 0)
    assert arch == b.arch
    assert {k: getattr(train, k) for k in b.train} == b.train


def test_quickstart_baseline(tmp_path):
    path = tmp_path / "quickstart.yaml"
    shutil.copy(STUDIES / "quickstart.yaml", path)
    prepared, b = baseline_of(path)
    assert b.name == "dcgan"
    g, d = b.arch.generator, b.arch.discriminator
    # DCGAN widths (stem 128, layer 64) snapped to the study's [32, 64]
    assert (g.width, g.base_resolution, g.norm, g.activation) == (64, 4, "batch", "relu")
    assert layers(g) == [("deconv", 4, 2, 64, "batch", "relu"), ("deconv", 4, 2, 1, "none", "tanh")]
    assert layers(d) == [("conv", 4, 2, 64, "none", "lrelu"), ("conv", 4, 2, 64, "batch", "lrelu")]
    assert (b.arch.resolution, b.arch.channels, b.arch.latent_dim) == (16, 1, 64)
    assert b.train == {"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
                       "loss": "ns", "d_steps": 1, "augment": "none", "l1_weight": 100.0}
    # only the multi-choice params the space asks (single-choice norms, blocks, activations are not)
    assert b.params == {"g.strides": "2-2", "g.stem.width": 64,
                        "g.0.block": "deconv", "g.0.kernel": 4, "g.0.width": 64,
                        "g.1.block": "deconv", "g.1.kernel": 4,
                        "d.strides": "2-2", "d.norm": "batch",
                        "d.0.kernel": 4, "d.0.width": 64, "d.1.kernel": 4, "d.1.width": 64,
                        "lr_g": 2e-4, "loss": "ns"}
    check_round_trip(prepared.space, b)
    check_builds(prepared, b.arch)


def test_shapes32_baseline_with_a_plugin(tmp_path):
    raw = yaml.safe_load((STUDIES / "shapes32.yaml").read_text())
    raw["plugins"] = [str((STUDIES / p).resolve()) for p in raw["plugins"]]
    path = tmp_path / "shapes32.yaml"
    path.write_text(yaml.safe_dump(raw))
    prepared, b = baseline_of(path)
    g, d = b.arch.generator, b.arch.discriminator
    assert g.width == 64  # DCGAN's 256, snapped to [16, 32, 64]
    assert layers(g) == [("deconv", 4, 2, 64, "batch", "relu")] * 2 + [("deconv", 4, 2, 3, "none", "tanh")]
    assert layers(d) == [("conv", 4, 2, 64, "none", "lrelu")] + [("conv", 4, 2, 64, "batch", "lrelu")] * 2
    assert b.arch.latent_dim == 128  # of [64, 128], nearest 100
    assert b.train["beta1"] == 0.5 and b.train["lr_d"] == 2e-4 and b.train["loss"] == "ns"
    assert b.params is not None
    assert b.params["d.0.block"] == "conv"  # D offers [conv, pixel_unshuffle]: a real choice
    assert b.params["latent_dim"] == 128 and b.params["beta1"] == 0.5
    check_round_trip(prepared.space, b)
    check_builds(prepared, b.arch)


@pytest.mark.parametrize("resolution, base, g_strides", [
    (8, 4, [2]),
    (32, 4, [2, 2, 2]),
    (64, 4, [2, 2, 2, 2]),
    (64, 2, [2, 2, 2, 2, 2]),
    (24, 4, [2, 3]),
    (8, 8, [1]),
])
def test_resolutions(write_study, resolution, base, g_strides):
    net = {"strides": [1, 2, 3], "kernels": [3, 4, 6], "depth": {"low": 1, "high": 5}, "base_resolution": base}
    path = write_study({"data.resolution": resolution, **{f"generator.{k}": v for k, v in net.items()},
                        **{f"discriminator.{k}": v for k, v in net.items()}})
    prepared, b = baseline_of(path)
    g, d = b.arch.generator, b.arch.discriminator
    assert [x.stride for x in g.layers] == g_strides
    assert [x.stride for x in d.layers] == g_strides[::-1]  # D mirrors G
    assert [x.kernel for x in g.layers] == [2 * s if s > 1 else 3 for s in g_strides]
    assert [x.norm for x in d.layers] == ["none"] + ["batch"] * (len(g_strides) - 1)
    assert g.layers[-1].out_channels == 1 and g.layers[-1].activation == "tanh"
    assert b.params is not None
    check_round_trip(prepared.space, b)
    check_builds(prepared, b.arch)


def test_widths_follow_dcgan_then_snap(write_study):
    widths = [16, 32, 64, 128, 256, 512]
    path = write_study({"data.resolution": 64, "generator.widths": widths, "discriminator.widths": widths})
    _, b = baseline_of(path)
    g, d = b.arch.generator, b.arch.discriminator
    assert g.width == 512 and [x.out_channels for x in g.layers] == [256, 128, 64, 1]  # DCGAN 64x64
    assert [x.out_channels for x in d.layers] == [64, 128, 256, 512]
    path = write_study({"generator.widths": [32, 96], "discriminator.widths": [40, 100]}, name="tie.yaml")
    _, b = baseline_of(path)
    assert b.arch.generator.width == 96  # DCGAN's 128
    assert b.arch.generator.layers[0].out_channels == 96  # 64: a tie between 32 and 96 goes to the larger
    assert [x.out_channels for x in b.arch.discriminator.layers] == [40, 100]  # 64 -> 40, 128 -> 100
    assert b.params is not None


def test_without_deconv_the_baseline_is_outside_the_space_but_builds(write_study):
    prepared, b = baseline_of(write_study({"generator.blocks": ["upsample_conv"]}))
    assert b.params is None
    assert {x.block for x in b.arch.generator.layers} == {"deconv"}
    check_builds(prepared, b.arch)


@pytest.mark.parametrize("changes", [
    {"generator.kernels": [3, 5]},  # no kernel 4
    {"discriminator.norms": ["none", "layer"]},  # no batch norm
    {"generator.activations": ["silu"]},
    {"discriminator.depth": {"low": 3, "high": 4}},  # no two-layer plan
])
def test_outside_the_space(write_study, changes):
    prepared, b = baseline_of(write_study(changes))
    assert b.params is None
    check_builds(prepared, b.arch)


@UNEVEN_STEP
def test_train_values_nearest_dcgan(write_study):
    path = write_study({
        "train.lr_g": {"low": 5e-4, "high": 1e-3, "log": True},  # above 2e-4: its low end
        "train.lr_d": {"low": 1e-5, "high": 1e-4},  # below: its high end
        "train.beta1": [0.0, 0.9],  # 0.5: nearer 0.9 (0.4 vs 0.5)
        "train.beta2": 0.99,  # fixed: the study's
        "train.loss": ["hinge"],  # no ns: the first
        "train.batch_size": {"low": 16, "high": 100, "step": 10},  # 64 on the grid 16, 26, ..., 96: 66
        "train.d_steps": {"low": 2, "high": 5},
        "train.latent_dim": [90, 110],  # 100: a tie, the larger
    })
    prepared, b = baseline_of(path)
    assert dcgan_train_values(prepared.config) == b.train == {
        "batch_size": 66, "lr_g": 5e-4, "lr_d": 1e-4, "beta1": 0.9, "beta2": 0.99, "loss": "hinge", "d_steps": 2,
        "augment": "none", "l1_weight": 100.0}
    assert b.arch.latent_dim == 110
    assert isinstance(b.train["batch_size"], int) and isinstance(b.train["lr_d"], float)
    assert b.params is not None
    assert {k: b.params[k] for k in ("batch_size", "lr_g", "lr_d", "beta1", "d_steps", "latent_dim")} == {
        "batch_size": 66, "lr_g": 5e-4, "lr_d": 1e-4, "beta1": 0.9, "d_steps": 2, "latent_dim": 110}
    assert "loss" not in b.params and "beta2" not in b.params  # single choice / fixed: not asked
    check_round_trip(prepared.space, b)


@UNEVEN_STEP
@pytest.mark.parametrize("latent, expected", [
    ({"low": 8, "high": 32}, 32), ({"low": 128, "high": 256, "log": True}, 128), (16, 16), ([64, 128], 128),
    ({"low": 8, "high": 99, "step": 10}, 98), ({"low": 95, "high": 120, "step": 10}, 105)])
def test_latent_dim(write_study, latent, expected):
    prepared, b = baseline_of(write_study({"train.latent_dim": latent}))
    assert b.arch.latent_dim == expected
    assert b.params is not None and b.params.get("latent_dim", 16) == expected
    check_round_trip(prepared.space, b)


def test_params_none_when_the_arch_or_values_do_not_match(write_study):
    prepared = prepare(write_study(), load_data=False)
    space = prepared.space
    arch = dcgan_arch(prepared.config, space.channels, space)
    train = dcgan_train_values(prepared.config)
    assert baseline_params(space, arch, train) is not None
    assert baseline_params(space, arch, {**train, "lr_g": 1e-3}) is None  # lr_g is fixed at 2e-4
    assert baseline_params(space, arch, {**train, "loss": "hinge"}) is None
    g = arch.generator
    odd = replace(arch, generator=replace(g, layers=(replace(g.layers[0], out_channels=48), *g.layers[1:])))
    assert baseline_params(space, odd, train) is None  # 48 is not in widths [32, 64]
    assert baseline_params(space, replace(arch, latent_dim=100), train) is None  # latent_dim is fixed at 64


def test_unknown_baseline(write_study):
    prepared = prepare(write_study(), load_data=False)
    with pytest.raises(StudyConfigError) as err:
        make_baseline("wgan", prepared.config, prepared.space)
    assert err.value.key == "baseline" and err.value.file == prepared.config.file
    assert "dcgan" in str(err.value)
