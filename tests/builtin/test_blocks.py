import pytest
import torch

from gansearch.builtin import blocks as builtin_blocks
from gansearch.builtin.blocks import deconv_padding
from gansearch.testing import BlockConformance


class TestConv(BlockConformance):
    block_name = "conv"


class TestDeconv(BlockConformance):
    block_name = "deconv"


class TestUpsampleConv(BlockConformance):
    block_name = "upsample_conv"


class TestResidual(BlockConformance):
    block_name = "residual"


@pytest.mark.parametrize("kernel", range(1, 9))
@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_deconv_uses_padding_and_output_padding_not_cropping_when_it_can(kernel, stride):
    p, op, crop = deconv_padding(kernel, stride)
    assert 0 <= op < stride or (stride == 1 and op == 0)
    assert crop == (1 if stride == 1 and kernel % 2 == 0 else 0)
    # ConvTranspose2d output size: (H - 1) s - 2p + k + op (- crop)
    assert (5 - 1) * stride - 2 * p + kernel + op - crop == 5 * stride


def test_bilinear_and_nearest_upsampling_differ():
    from gansearch.plugins import BlockArgs

    torch.manual_seed(0)
    near = builtin_blocks.UpsampleConvBlock(BlockArgs(1, 1, 1, 2, options={"mode": "nearest"}))
    torch.manual_seed(0)
    bil = builtin_blocks.UpsampleConvBlock(BlockArgs(1, 1, 1, 2, options={"mode": "bilinear"}))
    x = torch.randn(1, 1, 4, 4)
    out_n, out_b = near(x), bil(x)
    assert out_n.shape == out_b.shape == (1, 1, 8, 8)
    assert not torch.allclose(out_n, out_b)
    # nearest: each input pixel becomes a 2x2 block of equal values (a 1x1 conv keeps that)
    assert torch.allclose(out_n[..., ::2, ::2], out_n[..., 1::2, 1::2])
