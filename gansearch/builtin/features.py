"""Label-free feature extractors built from fixed, seeded random convolutions (no downloaded weights).

``texture``: spatial means and standard deviations of a random conv net's feature maps (the score
gansearch started with: sees texture, blind to layout). ``layout``: the default, see ``LayoutFeatures``.
"""

import math

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


LAPLACE = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)


def orthogonal_conv(cin: int, cout: int, k: int, stride: int, pad: int, g: torch.Generator) -> nn.Conv2d:
    """A conv with orthogonal rows (when possible) scaled to He variance; zero bias."""
    fan_in = cin * k * k
    w = torch.randn(cout, fan_in, generator=g)
    if cout <= fan_in:
        q, _ = torch.linalg.qr(w.T)  # (fan_in, cout), orthonormal columns
        w = q.T * math.sqrt(fan_in)
    conv = nn.Conv2d(cin, cout, k, stride, pad)
    with torch.no_grad():
        conv.weight.copy_(w.view(cout, cin, k, k) * math.sqrt(2.0 / fan_in))
        conv.bias.zero_()
    conv.requires_grad_(False)
    return conv


def mirror_pair_conv(cin: int, cout: int, k: int, stride: int, pad: int, g: torch.Generator,
                     paired_input: bool) -> nn.Conv2d:
    """A conv whose second half of filters are the left-right mirrors of the first half (with the input's
    twin channels swapped when the input is itself mirror-paired).  Then conv(mirror(h)) equals
    mirror(conv(h)) with the two halves of the output channels swapped: the net is mirror-equivariant,
    so the mirrored image's features come for free, without a second pass."""
    conv = orthogonal_conv(cin, cout // 2, k, stride, pad, g)
    w = conv.weight  # (cout/2, cin, k, k)
    twin = w.flip(-1)
    if paired_input:
        twin = twin[:, swap_halves(cin)]
    out = nn.Conv2d(cin, cout, k, stride, pad)
    with torch.no_grad():
        out.weight.copy_(torch.cat([w, twin], 0)), out.bias.zero_()
    out.requires_grad_(False)
    return out


def swap_halves(n: int) -> torch.Tensor:
    return torch.cat([torch.arange(n // 2, n), torch.arange(n // 2)])


class LayoutFeatures(nn.Module):
    """The default, label-free extractor: appearance, layout and shape, and a little fine detail.

    * ``app`` (colour): per-channel mean/std and a mirror-symmetric 4x4 colour grid.
    * Structure sees only per-image normalised luminance (so random colours do not drown shape and
      layout): a 4-stage random conv net whose filters come in left-right mirror pairs, so the
      mirrored image's features come free. ``layI``: the mirror-invariant part of its stage-2 maps
      on a 4x4 grid (layout); ``layR``: what mirroring changes (weighted less: natural images are
      nearly mirror-symmetric, not upside-down-symmetric); ``deep``: global mean/std of stage 3.
    * ``hf``: mean and median |Laplacian| at two scales (noise, blur), its spread floored so that
      flat-coloured data cannot make it explode.
    ``fit`` stores the real data's per-dimension mean/std; ``forward`` standardises, squashes with
    2 tanh(z/2) so no group can dominate, and weights each group (``GROUPS``).
    """

    # group -> (weight in the FD, absolute std floor in raw units)
    GROUPS = {"app": (0.2, 0.0), "layI": (1.0, 0.0), "layR": (0.6, 0.0), "deep": (0.6, 0.0), "hf": (0.03, 0.1)}

    def __init__(self, seed: int = 0, channels: int = 3, widths=(16, 32, 64, 96), eps: float = 0.05,
                 groups: dict | None = None):
        super().__init__()
        self.channels = channels
        g = torch.Generator().manual_seed(seed)
        self.eps = eps
        self.groups = dict(groups or self.GROUPS)
        self.convs = nn.ModuleList([mirror_pair_conv(1, widths[0], 3, 1, 1, g, False)] +
                                   [mirror_pair_conv(widths[i - 1], widths[i], 4, 2, 1, g, True) for i in range(1, 4)])
        self.proj_lay = orthogonal_conv(widths[2], 12, 1, 1, 0, g)
        self.proj_deep = orthogonal_conv(widths[3], 16, 1, 1, 0, g)
        self.sizes = {"app": 10 * channels, "layI": 12 * 8, "layR": 12 * 16, "deep": 32, "hf": 4}
        self.dim = sum(self.sizes.values())
        self.register_buffer("mu", torch.zeros(self.dim))
        self.register_buffer("sd", torch.ones(self.dim))
        self.register_buffer("scale", torch.ones(self.dim))

    def _maps(self, gray: torch.Tensor):
        """gray (B,1,r,r), normalised -> projected stage-2 maps (B,12,r/4,r/4) and stage-3 maps (B,16,r/8,r/8),
        for the image and (thanks to the mirror-paired filters, re-aligned) for its mirror image."""
        h = gray
        outs = []
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
            outs.append(h)
        h2, h3 = outs[2], outs[3]
        s2, s3 = swap_halves(h2.shape[1]), swap_halves(h3.shape[1])
        mirrored = lambda p, h, s: F.conv2d(h, p.weight[:, s])  # = mirror(p(net(mirror(x))))
        return (self.proj_lay(h2), mirrored(self.proj_lay, h2, s2),
                self.proj_deep(h3), mirrored(self.proj_deep, h3, s3))

    @torch.no_grad()
    def raw(self, x: torch.Tensor) -> torch.Tensor:
        # (B, 1|3, H, W) in [-1, 1] -> (B, dim) unnormalised features
        x = x.float()
        r = min(max(x.shape[-1], 16), 32)
        if x.shape[-1] != r or x.shape[-2] != r:
            x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=x.shape[-1] > r)

        # appearance: colour mean/std (B,2C) + mirror-invariant 4x4 colour grid, left half (B,C*8)
        grid = F.adaptive_avg_pool2d(x, 4)  # (B,C,4,4)
        grid = (grid + grid.flip(-1)) / 2
        app = torch.cat([x.mean((2, 3)), x.std((2, 3)), grid[..., :2].flatten(1)], 1)

        # structure on per-image normalised luminance, for the image and its mirror
        gray = x.mean(1, keepdim=True)  # (B,1,r,r)
        norm = (gray - gray.mean((2, 3), keepdim=True)) / (gray.std((2, 3), keepdim=True) + self.eps)
        lay, lay_m, deep, deep_m = self._maps(norm)  # lay_m: the mirror image's maps, mirrored back
        lay, lay_m = F.adaptive_avg_pool2d(lay, 4), F.adaptive_avg_pool2d(lay_m, 4)  # (B,12,4,4), aligned
        inv = (lay + lay_m + lay.flip(-1) + lay_m.flip(-1)) / 4  # invariant to mirroring the input
        lay_i = inv[..., :2].flatten(1)  # (B,96): the left half determines it
        lay_r = (lay - inv).flatten(1)  # (B,192): what mirroring changes
        stats = lambda d: torch.cat([d.mean((2, 3)), d.std((2, 3))], 1)  # (B,32)
        deep = (stats(deep) + stats(deep_m)) / 2  # mirror-invariant

        # fine detail: mean and median |Laplacian| of the raw luminance at scales 1 and 2 (B,4)
        hf = []
        for _ in range(2):
            lap = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), LAPLACE.to(gray)).abs().flatten(1)
            hf += [lap.mean(1), lap.median(1).values]
            gray = F.avg_pool2d(gray, 2)
        hf = torch.stack(hf, 1)
        parts = {"app": app, "layI": lay_i, "layR": lay_r, "deep": deep, "hf": hf}
        return torch.cat([parts[k] for k in self.sizes], 1)  # (B, dim)

    @torch.no_grad()
    def fit(self, real_raw: torch.Tensor) -> None:
        """Per-dimension mean/std of the real features, std floored per group; per-group FD weights."""
        real_raw = real_raw.double()
        mu, sd = real_raw.mean(0), real_raw.std(0)
        floor, scale = torch.zeros_like(sd), torch.zeros_like(sd)
        start = 0
        for k, n in self.sizes.items():
            weight, fl = self.groups[k]
            floor[start:start + n], scale[start:start + n] = fl, math.sqrt(weight / n)
            start += n
        self.mu.copy_(mu), self.sd.copy_((sd ** 2 + floor ** 2).sqrt().clamp(min=1e-6)), self.scale.copy_(scale)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, 1|3, H, W) in [-1, 1] -> (B, dim): standardised on the real data, bounded, group-weighted
        z = (self.raw(x).to(self.mu) - self.mu) / self.sd
        return (2 * torch.tanh(z / 2) * self.scale).float()
