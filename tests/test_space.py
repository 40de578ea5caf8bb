import itertools
import json

import optuna
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gansearch.config import IntRange, config_from_dict
from gansearch.errors import StudyConfigError
from gansearch.nets import ArchSpec, build_pair
from gansearch.plugins import load_registry
from gansearch.search import SearchSpace, stride_plans

REGISTRY = load_registry(entry_points=False)
optuna.logging.set_verbosity(optuna.logging.WARNING)


def study_dict(resolution=16, g=None, d=None, train=None, channels=1):
    return {"name": "t", "data": {"name": "digits", "resolution": resolution, "channels": channels},
            "generator": {"blocks": ["deconv"], "widths": [4], **(g or {})},
            "discriminator": {"blocks": ["conv"], "widths": [4], **(d or {})},
            "train": train or {}}


def space_for(raw):
    config = config_from_dict(raw)
    return SearchSpace(config, REGISTRY, config.data.channels or 1)


def brute_force_feasible(strides, low, high, factor, can_resample):
    allowed = strides if can_resample else [1]
    return any(
        eval("*".join(map(str, plan)) or "1") == factor  # noqa: S307 - tiny products of ints
        for depth in range(low, high + 1) for plan in itertools.product(allowed, repeat=depth))


def net_spaces(blocks):
    return st.fixed_dictionaries({
        "blocks": st.lists(st.sampled_from(blocks), min_size=1, max_size=len(blocks), unique=True),
        "kernels": st.lists(st.integers(1, 5), min_size=1, max_size=3, unique=True),
        "strides": st.lists(st.integers(1, 4), min_size=1, max_size=3, unique=True).flatmap(
            lambda strides: st.sampled_from([strides, sorted({*strides, 2}), sorted({*strides, 2})])),
        "depth": st.tuples(st.integers(1, 3), st.integers(0, 3)).map(lambda t: {"low": t[0], "high": t[0] + t[1]}),
        "norms": st.lists(st.sampled_from(["none", "batch", "instance", "layer"]), min_size=1, max_size=2,
                          unique=True),
        "base_resolution": st.sampled_from([1, 2, 4]),
    })


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resolution=st.sampled_from([8, 16, 24, 32]), channels=st.sampled_from([1, 3]),
       g=net_spaces(["deconv", "upsample_conv", "conv"]), d=net_spaces(["conv", "deconv"]),
       seed=st.integers(0, 2**16))
def test_every_proposed_pair_builds_with_exact_shapes(resolution, channels, g, d, seed):
    raw = study_dict(resolution, g, d, channels=channels)
    feasible = all(
        resolution % net["base_resolution"] == 0
        and not ("instance" in net["norms"] and net["base_resolution"] == 1)  # instance norm needs 2x2 maps
        and brute_force_feasible(
            net["strides"], net["depth"]["low"], net["depth"]["high"], resolution // net["base_resolution"],
            any(REGISTRY.block(b).can_stride(kind) for b in net["blocks"]))
        for kind, net in (("generator", g), ("discriminator", d)))
    try:
        space = space_for(raw)
    except StudyConfigError as err:
        assert not feasible, f"feasible space rejected: {err}"
        return
    assert feasible, "an infeasible space was accepted"
    event("feasible space")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(3):
        trial = study.ask()
        arch, _train = space.suggest(trial, seed=1)
        gen, disc = build_pair(arch, REGISTRY, seed=1)
        images = gen(torch.randn(2, arch.latent_dim))
        assert images.shape == (2, channels, resolution, resolution)
        assert disc(images).shape == (2,)
        study.tell(trial, 1.0)


def test_stride_plans_are_exactly_the_products_that_reach_the_factor():
    plans = stride_plans([1, 2, 4], IntRange(1, 3), 8, True)
    assert sorted(plans) == sorted([(2, 4), (4, 2), (1, 2, 4), (1, 4, 2), (2, 1, 4), (2, 4, 1), (4, 1, 2),
                                    (4, 2, 1), (2, 2, 2)])
    assert stride_plans([2], IntRange(1, 4), 8, False) == []


def test_parameter_names_are_readable_and_a_trial_rebuilds_from_its_params_alone():
    raw = study_dict(16, g={"blocks": ["deconv", "upsample_conv"], "kernels": [3, 4], "widths": [4, 8]},
                     d={"widths": [4, 8]}, train={"lr_g": {"low": 1e-4, "high": 1e-3, "log": True}, "loss": ["ns", "hinge"]})
    space = space_for(raw)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    trial = study.ask()
    arch, train = space.suggest(trial, seed=7)
    names = set(trial.params)
    assert {"g.strides", "g.0.block", "g.0.kernel", "d.strides", "d.0.kernel", "d.0.width", "lr_g", "loss"} <= names
    assert all(name.startswith(("g.", "d.")) or name in ("lr_g", "loss") for name in names)
    rebuilt, rebuilt_train = space.suggest(optuna.trial.FixedTrial(trial.params), seed=7)
    assert rebuilt == arch and rebuilt_train == train
    assert ArchSpec.from_dict(json.loads(json.dumps(arch.to_dict()))) == arch


def test_conv_in_the_generator_only_takes_stride_one_layers():
    raw = study_dict(16, g={"blocks": ["deconv", "conv"], "depth": {"low": 3, "high": 4}})
    space = space_for(raw)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        arch, _ = space.suggest(trial, seed=0)
        for layer in arch.generator.layers:
            assert layer.stride == 1 or layer.block == "deconv"
            seen.add((layer.block, layer.stride))
        study.tell(trial, 0.0)
    assert ("conv", 1) in seen and ("deconv", 2) in seen


@pytest.mark.parametrize("g, key, message", [
    ({"blocks": ["conv"]}, "generator.blocks", "none of the blocks (conv) can"),
    ({"strides": [3], "depth": 2}, "generator.strides", "2 layers with strides from [3] cannot reach it; other strides"),
    ({"strides": [2], "depth": 1}, "generator.depth", "1 layer with strides from [2] cannot reach it; depth up to 2 would fit"),
])
def test_infeasible_space_is_a_config_error_naming_the_key_to_change(g, key, message):
    with pytest.raises(StudyConfigError, match="no feasible architecture") as err:
        space_for(study_dict(16, g=g))
    assert message in str(err.value) and err.value.key == key


# -- translate: encoder-decoder scale plans ------------------------------------------------------------

def translate_dict(resolution, g, d, channels, condition, translate=None):
    return {**study_dict(resolution, g, d, channels=channels), "task": "translate",
            "translate": {"condition": condition, **(translate or {})}}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resolution=st.sampled_from([8, 16, 24, 32]), channels=st.sampled_from([1, 3]),
       g=net_spaces(["conv", "deconv", "upsample_conv", "residual"]), d=net_spaces(["conv"]),
       condition=st.sampled_from(["grayscale", "downsample", "blur", "noise", "mask", "edges"]),
       skips=st.sampled_from([[False], [True], [False, True]]), head=st.sampled_from([["dense"], ["patch"]]),
       conditional=st.sampled_from([[False], [True]]), seed=st.integers(0, 2**16))
def test_every_proposed_translator_builds_and_maps_r_to_r(resolution, channels, g, d, condition, skips, head,
                                                          conditional, seed):
    raw = translate_dict(resolution, g, d, channels, condition,
                         {"skips": skips, "d_head": head, "conditional_d": conditional})
    try:
        space = space_for(raw)
    except StudyConfigError:
        return  # an infeasible space is a config error (the generate property test checks that side)
    event("feasible translate space")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    cond_channels = 1 if condition in ("grayscale", "edges") else channels
    for _ in range(3):
        trial = study.ask()
        arch, _train = space.suggest(trial, seed=1)
        assert arch.task == "translate" and arch.cond_channels == cond_channels
        sizes, size = [], resolution
        for layer in arch.generator.layers:  # the scale plan: never below base_resolution, ends at R
            size = REGISTRY.block(layer.block).out_size(size, layer.stride)
            sizes.append(size)
        assert sizes[-1] == resolution and min(sizes) >= g["base_resolution"]
        gen, disc = build_pair(arch, REGISTRY, seed=1)
        cond = torch.randn(2, cond_channels, resolution, resolution)
        images = gen(cond)
        assert images.shape == (2, channels, resolution, resolution)
        d_in = torch.cat([cond, images], 1) if arch.discriminator.conditional else images
        logits = disc(d_in)
        b = arch.discriminator.base_resolution
        assert logits.shape == ((2, b * b) if arch.discriminator.head == "patch" else (2,))
        study.tell(trial, 1.0)


def test_scale_plans_go_down_and_come_back_without_leaving_the_allowed_sizes():
    from gansearch.search import encode_plan, scale_plans

    plans = scale_plans([("s", 1), ("d", 2), ("u", 2)], IntRange(2, 4), 16, 4)
    names = {encode_plan(p) for p in plans}
    assert {"d2-u2", "s1-s1", "d2-d2-u2-u2", "d2-u2-d2-u2", "s1-d2-u2-s1"} <= names
    assert "u2-d2" not in names and "d2-d2-d2-u2" not in names  # above R; no way back to 16 in 4 steps
    for plan in plans:
        size = 16
        for kind, s in plan:
            size = size // s if kind == "d" else size * s if kind == "u" else size
            assert 4 <= size <= 16
        assert size == 16
