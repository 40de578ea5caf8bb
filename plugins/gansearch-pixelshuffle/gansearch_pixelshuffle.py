"""Sub-pixel blocks for gansearch: pixel-shuffle upsampling and its pixel-unshuffle mirror.

Use it by path (``plugins: [../plugins/gansearch-pixelshuffle/gansearch_pixelshuffle.py]`` in a
study file) or install it (``pip install ./plugins/gansearch-pixelshuffle``): its entry point in the
``gansearch`` group makes the blocks available to every study.
"""

import torch.nn as nn

import gansearch

__version__ = "0.1.0"


class PixelShuffleBlock(nn.Module):
    """Stride-1 conv to C_out·s² channels, then PixelShuffle(s): learned sub-pixel upsampling (Shi et al. 2016)."""

    def __init__(self, a: gansearch.BlockArgs):
        super().__init__()
        s = a.stride
        self.conv = gansearch.exact_conv(a.in_channels, a.out_channels * s * s, a.kernel, bias=a.norm == "none")
        self.shuffle = nn.PixelShuffle(s)
        self.norm = gansearch.make_norm(a.norm, a.out_channels)
        self.act = gansearch.make_activation(a.activation)

    def forward(self, x):
        # (B, C_in, H, W) -> (B, C_out*s*s, H, W) -> (B, C_out, H*s, W*s)
        return self.act(self.norm(self.shuffle(self.conv(x))))


class PixelUnshuffleBlock(nn.Module):
    """PixelUnshuffle(s) to C_in·s² channels, then a stride-1 conv: lossless downsampling."""

    def __init__(self, a: gansearch.BlockArgs):
        super().__init__()
        s = a.stride
        self.unshuffle = nn.PixelUnshuffle(s)
        self.conv = gansearch.exact_conv(a.in_channels * s * s, a.out_channels, a.kernel, bias=a.norm == "none")
        self.norm = gansearch.make_norm(a.norm, a.out_channels)
        self.act = gansearch.make_activation(a.activation)

    def forward(self, x):
        # (B, C_in, H, W) -> (B, C_in*s*s, H/s, W/s) -> (B, C_out, H/s, W/s)
        return self.act(self.norm(self.conv(self.unshuffle(x))))


@gansearch.hookimpl
def register_blocks(register):
    register(gansearch.Block("pixel_shuffle", PixelShuffleBlock, scale="up",
                             description="conv to C*s^2 channels, then PixelShuffle(s)"))
    register(gansearch.Block("pixel_unshuffle", PixelUnshuffleBlock, scale="down",
                             description="PixelUnshuffle(s), then a stride-1 conv"))
