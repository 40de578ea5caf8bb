"""Label-free feature extractors built from fixed, seeded random convolutions (no downloaded weights).

``texture``: spatial means and standard deviations of a random conv net's feature maps (the score
gansearch started with: sees texture, blind to layout). ``layout``: the default, see ``LayoutFeatures``.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

FEATURE_SIZES = (16, 32)  # images are resized into this range (16x16 digits stay 16x16: 4x cheaper than 32)


def random_conv(in_channels, out_channels, kernel, stride, padding, generator) -> nn.Conv2d:
    """A conv with He-scaled Gaussian weights drawn from ``generator`` and zero bias."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding)
    with torch.no_grad():
        fan_in = conv.weight[0].numel()
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
        conv.bias.zero_()
    return conv


def to_feature_size(x: torch.Tensor) -> torch.Tensor:
    """(B, 1|3, H, W) -> (B, 3, S, S) with S = H clamped into FEATURE_SIZES (antialiased when shrinking)."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    size = min(max(x.shape[-1], FEATURE_SIZES[0]), FEATURE_SIZES[1])
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)
    return x


class RandomFeatures(nn.Module):
    """Three random conv stages; features are the spatial means and standard deviations of the last two."""

    def __init__(self, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList([random_conv(3, 32, 3, 1, 1, gen), random_conv(32, 64, 4, 2, 1, gen),
                                    random_conv(64, 96, 4, 2, 1, gen)])
        self.requires_grad_(False)
        self.dim = 2 * (64 + 96)

    @torch.no_grad()
    def forward(self, x):
        # (B, 1|3, H, W) in [-1, 1] -> (B, 320)
        x = to_feature_size(x)
        feats = []
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), 0.2)
            if i > 0:
                feats += [x.mean((2, 3)), x.std((2, 3))]
        return torch.cat(feats, 1)


class LayoutFeatures(nn.Module):
    """Placeholder: random projections of random conv features pooled to coarse grids, standardised."""

    def __init__(self, seed: int = 0, proj: int = 16):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList([random_conv(3, 32, 3, 1, 1, gen), random_conv(32, 64, 4, 2, 1, gen),
                                    random_conv(64, 96, 4, 2, 1, gen)])
        self.proj = nn.ModuleList([random_conv(64, proj, 1, 1, 0, gen), random_conv(96, proj, 1, 1, 0, gen)])
        self.dim = proj * (16 + 4)
        self.register_buffer("mean", torch.zeros(self.dim))
        self.register_buffer("std", torch.ones(self.dim))
        self.requires_grad_(False)

    @torch.no_grad()
    def raw(self, x):
        # (B, 1|3, H, W) in [-1, 1] -> (B, dim)
        h = to_feature_size(x)
        out = []
        for i, conv in enumerate(self.convs):
            h = F.leaky_relu(conv(h), 0.2)
            if i > 0:
                out.append(F.adaptive_avg_pool2d(self.proj[i - 1](h), (4, 2)[i - 1]).flatten(1))
        return torch.cat(out, 1)

    def fit(self, real_raw: torch.Tensor) -> None:
        self.mean.copy_(real_raw.mean(0))
        self.std.copy_(real_raw.std(0).clamp(min=1e-6))

    @torch.no_grad()
    def forward(self, x):
        return (self.raw(x) - self.mean) / self.std / self.dim ** 0.5
