"""Built-in blocks: strided conv, transposed conv ("deconv"), resize-convolution and a residual block."""

import torch.nn as nn

from gansearch.plugins._block import Block, BlockArgs
from gansearch.plugins._hookspecs import hookimpl
from gansearch.plugins._layers import exact_conv, make_activation, make_norm


class ConvBlock(nn.Module):
    """Conv2d; stride s downsamples by exactly s for any kernel (asymmetric padding when needed)."""

    def __init__(self, a: BlockArgs):
        super().__init__()
        self.conv = exact_conv(a.in_channels, a.out_channels, a.kernel, a.stride, bias=a.norm == "none")
        self.norm = make_norm(a.norm, a.out_channels)
        self.act = make_activation(a.activation)

    def forward(self, x):
        # (B, C_in, H, W) -> (B, C_out, H/s, W/s)
        return self.act(self.norm(self.conv(x)))


def deconv_padding(kernel: int, stride: int) -> tuple[int, int, int]:
    """(padding, output_padding, crop) so ConvTranspose2d maps H to exactly H * stride.

    Without padding the output is (H - 1) s + k, i.e. k - s too many rows. Padding removes
    2p of them and output_padding adds op < s back; the one case that leaves a row over
    (stride 1, even kernel) is cropped.
    """
    excess = kernel - stride
    if excess < 0:
        return 0, -excess, 0
    p = (excess + 1) // 2
    op = 2 * p - excess
    if op < stride:
        return p, op, 0
    return (excess - 1) // 2, 0, 1


class DeconvBlock(nn.Module):
    """ConvTranspose2d; stride s upsamples by exactly s for every kernel size."""

    def __init__(self, a: BlockArgs):
        super().__init__()
        p, op, self.crop = deconv_padding(a.kernel, a.stride)
        self.conv = nn.ConvTranspose2d(a.in_channels, a.out_channels, a.kernel, a.stride,
                                       padding=p, output_padding=op, bias=a.norm == "none")
        self.norm = make_norm(a.norm, a.out_channels)
        self.act = make_activation(a.activation)

    def forward(self, x):
        # (B, C_in, H, W) -> (B, C_out, H*s, W*s)
        y = self.conv(x)
        if self.crop:
            y = y[..., : y.shape[-2] - self.crop, : y.shape[-1] - self.crop]
        return self.act(self.norm(y))


class UpsampleConvBlock(nn.Module):
    """Nearest or bilinear upsample by s, then a stride-1 conv: resize-convolution, no checkerboard."""

    def __init__(self, a: BlockArgs):
        super().__init__()
        mode = a.options.get("mode", "nearest")
        if a.stride == 1:
            self.up = nn.Identity()
        else:
            self.up = nn.Upsample(scale_factor=a.stride, mode=mode,
                                  **({"align_corners": False} if mode == "bilinear" else {}))
        self.conv = ConvBlock(BlockArgs(a.in_channels, a.out_channels, a.kernel, 1, a.norm, a.activation))

    def forward(self, x):
        # (B, C_in, H, W) -> (B, C_out, H*s, W*s)
        return self.conv(self.up(x))


class ResidualBlock(nn.Module):
    """x + conv(act(norm(conv(x)))), then norm and activation; a 1x1 conv matches channels on the shortcut.
    Never resamples (scale "same"): it refines features at one resolution, in any network."""

    def __init__(self, a: BlockArgs):
        super().__init__()
        self.body = nn.Sequential(
            exact_conv(a.in_channels, a.out_channels, a.kernel, bias=a.norm == "none"),
            make_norm(a.norm, a.out_channels), make_activation("lrelu" if a.activation == "tanh" else a.activation),
            exact_conv(a.out_channels, a.out_channels, a.kernel, bias=a.norm == "none"))
        self.skip = nn.Identity() if a.in_channels == a.out_channels else nn.Conv2d(a.in_channels, a.out_channels, 1)
        self.norm = make_norm(a.norm, a.out_channels)
        self.act = make_activation(a.activation)

    def forward(self, x):
        # (B, C_in, H, W) -> (B, C_out, H, W)
        return self.act(self.norm(self.skip(x) + self.body(x)))


@hookimpl
def register_blocks(register):
    register(Block("conv", ConvBlock, scale="down",
                   description="Conv2d; stride s downsamples by s (stride 1 keeps size)"))
    register(Block("deconv", DeconvBlock, scale="up",
                   description="ConvTranspose2d; stride s upsamples by s"))
    register(Block("upsample_conv", UpsampleConvBlock, scale="up", options={"mode": ("nearest", "bilinear")},
                   description="nearest/bilinear upsample by s, then a stride-1 conv"))
    register(Block("residual", ResidualBlock, scale="same",
                   description="two convs with a shortcut (x + f(x)); never resamples"))
