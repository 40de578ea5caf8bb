"""The FID InceptionV3 feature network: layout, state-dict names, loading and the FID pooling variants.

Every net here has random weights (the real weight file is never needed); batches are 1-2 images.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

from gansearch.builtin.inception import (
    INCEPTION_ENV, WEIGHTS_FILE, BasicConv2d, ExtractorUnavailable, FIDInception, load_inception,
)
from gansearch.errors import GansearchError


def _randomise(net: FIDInception) -> FIDInception:
    """Random weights *and* BatchNorm statistics, scaled so the features stay O(1) through ~95 layers."""
    g = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, BasicConv2d):
            fan_in = m.conv.weight[0].numel()
            m.conv.weight.copy_(torch.randn(m.conv.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            c = m.bn.num_features
            m.bn.weight.copy_(1 + 0.1 * torch.randn(c, generator=g))
            m.bn.bias.copy_(0.1 * torch.randn(c, generator=g))
            m.bn.running_mean.copy_(0.1 * torch.randn(c, generator=g))
            m.bn.running_var.copy_(torch.rand(c, generator=g) + 0.5)
    return net


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """On busy cores a multi-threaded Inception forward can be ~20x slower than a single-threaded one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def net():
    return _randomise(FIDInception())


@pytest.fixture(scope="module")
def images():
    return torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.fixture(scope="module")
def features(net, images):
    return net(images)


@pytest.fixture(scope="module")
def weights_file(net, tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / WEIGHTS_FILE
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(INCEPTION_ENV, raising=False)


# -- the network --------------------------------------------------------------------------------


def test_maps_rgb_and_grey_images_to_2048_finite_features(net):
    assert FIDInception.dim == 2048 and net.dim == 2048
    outputs = {}
    for shape in [(2, 3, 32, 32), (2, 1, 16, 16)]:
        x = torch.rand(shape) * 2 - 1
        outputs[shape[1]] = x, net(x)
        assert outputs[shape[1]][1].shape == (2, 2048)
        assert torch.isfinite(outputs[shape[1]][1]).all()
        assert not outputs[shape[1]][1].requires_grad
    grey, features = outputs[1]
    assert torch.allclose(net(grey[:1].repeat(1, 3, 1, 1)), features[:1])  # grey is repeated to RGB


def test_is_a_frozen_eval_mode_net():
    net = FIDInception()
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training and not net.Mixed_5b.branch1x1.bn.training


def test_state_dict_has_the_fid_weight_file_names():
    state = FIDInception().state_dict()
    assert "Conv2d_1a_3x3.conv.weight" in state
    assert "Conv2d_1a_3x3.conv.bias" not in state
    assert "Mixed_5b.branch_pool.bn.num_batches_tracked" in state
    assert "Mixed_6b.branch7x7dbl_5.conv.weight" in state
    assert "Mixed_7a.branch7x7x3_4.bn.running_mean" in state
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in state
    assert state["fc.weight"].shape == (1008, 2048)
    assert state["fc.bias"].shape == (1008,)
    assert not any("AuxLogits" in k for k in state)
    tops = {k.split(".")[0] for k in state}
    assert tops == {
        "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
        "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
        "Mixed_7a", "Mixed_7b", "Mixed_7c", "fc",
    }
    for name, bn in FIDInception().named_modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            assert bn.eps == 0.001, name


def test_parameter_count_is_torchvision_inception_v3_without_aux_with_1008_classes():
    # torchvision's inception_v3 (aux logits, 1000 classes) has 27,161,264 parameters; its AuxLogits head has
    # 128*768 + 2*128 + 768*128*25 + 2*768 + 768*1000 + 1000 = 3,326,696 and 8 more classes add 8*2048 + 8 = 16,392.
    assert sum(p.numel() for p in FIDInception().parameters()) == 27_161_264 - 3_326_696 + 16_392


def test_block_output_shapes_on_a_299_input(net):
    expected = {
        "Mixed_5b": (256, 35), "Mixed_5c": (288, 35), "Mixed_5d": (288, 35), "Mixed_6a": (768, 17),
        "Mixed_6e": (768, 17), "Mixed_7a": (1280, 8), "Mixed_7b": (2048, 8), "Mixed_7c": (2048, 8),
    }
    seen = {}
    handles = [getattr(net, name).register_forward_hook(lambda m, i, o, name=name: seen.update({name: o.shape}))
               for name in expected]
    try:
        net(torch.zeros(1, 3, 299, 299))
    finally:
        for h in handles:
            h.remove()
    assert seen == {name: (1, c, s, s) for name, (c, s) in expected.items()}


# -- the FID pooling variants -------------------------------------------------------------------


def _pool_branch_output(block, x):
    """Run ``block`` with its pool branch's 1×1 conv made an identity on channel 0 and all else as is.

    Returns the pool branch's channel 0 (the last 192/pool_features channels of the block's output).
    """
    block = copy.deepcopy(block)
    conv, bn = block.branch_pool.conv, block.branch_pool.bn
    conv.weight.zero_()
    conv.weight[0, 0] = 1.0
    bn.weight.fill_(1.0)
    bn.bias.zero_()
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)  # BN is then exactly the identity
    return block(x)[:, -conv.out_channels]


def test_mixed_7c_pools_with_max_and_the_others_with_avg_excluding_padding(net):
    assert net.Mixed_7c.pool == "max"
    for name in ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7b"]:
        assert getattr(net, name).pool == "avg", name

    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 2048, 5, 5, generator=g)  # non-negative, so the branch's ReLU is a no-op
    got = _pool_branch_output(net.Mixed_7c, x)
    assert torch.allclose(got, F.max_pool2d(x[:, :1], 3, stride=1, padding=1)[:, 0], atol=1e-6)

    x = torch.rand(1, 192, 5, 5, generator=g)
    got = _pool_branch_output(net.Mixed_5b, x)
    excluding = F.avg_pool2d(x[:, :1], 3, stride=1, padding=1, count_include_pad=False)[:, 0]
    including = F.avg_pool2d(x[:, :1], 3, stride=1, padding=1, count_include_pad=True)[:, 0]
    assert torch.allclose(got, excluding, atol=1e-6)
    assert not torch.allclose(got[:, 0, 0], including[:, 0, 0], atol=1e-3)  # corners tell the two apart


# -- loading ------------------------------------------------------------------------------------


def test_loads_from_a_path_and_from_the_environment(net, images, features, weights_file, monkeypatch):
    loaded = load_inception(weights_file)
    assert isinstance(loaded, FIDInception) and not loaded.training
    assert torch.equal(loaded(images), features)

    monkeypatch.setenv(INCEPTION_ENV, str(weights_file))
    assert torch.equal(load_inception(None)(images), features)


def test_loads_without_num_batches_tracked_and_wrapped_in_state_dict(net, tmp_path):
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "w.pth"
    torch.save({"state_dict": state}, path)
    loaded = load_inception(str(path)).state_dict()
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


def _unavailable(path) -> str:
    with pytest.raises(ExtractorUnavailable) as info:
        load_inception(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_no_path_and_no_environment_says_what_to_get(no_env):
    assert issubclass(ExtractorUnavailable, GansearchError)
    message = _unavailable(None)
    assert WEIGHTS_FILE in message and INCEPTION_ENV in message
    assert "pytorch-fid" in message and "score.inception_weights" in message


def test_missing_file_is_named(no_env, tmp_path):
    path = tmp_path / "nowhere.pth"
    message = _unavailable(path)
    assert str(path) in message and "not found" in message


def test_bad_files_name_the_file_and_the_first_bad_key(net, tmp_path):
    wrong_keys = tmp_path / "wrong_keys.pth"
    torch.save({"conv.weight": torch.zeros(3)}, wrong_keys)
    message = _unavailable(wrong_keys)
    assert str(wrong_keys) in message and "'Conv2d_1a_3x3.conv.weight'" in message

    # Right keys and shapes but one-element storages (stride-0 views), so these files stay tiny.
    cheap = {k: torch.zeros((), dtype=v.dtype).expand(v.shape) for k, v in net.state_dict().items()}
    state = dict(cheap)
    state["fc.weight"] = torch.zeros(1000, 2048)
    wrong_shape = tmp_path / "wrong_shape.pth"
    torch.save(state, wrong_shape)
    message = _unavailable(wrong_shape)
    assert str(wrong_shape) in message and "'fc.weight'" in message

    state = dict(cheap)
    state["AuxLogits.fc.weight"] = torch.zeros(1000, 768)
    extra = tmp_path / "extra.pth"
    torch.save(state, extra)
    assert "'AuxLogits.fc.weight'" in _unavailable(extra)

    not_torch = tmp_path / "not_torch.pth"
    not_torch.write_text("hello\n")
    assert str(not_torch) in _unavailable(not_torch)
