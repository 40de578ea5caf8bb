"""ArchSpec + registry -> generator and discriminator modules, shape-checked layer by layer."""

import itertools

import torch
import torch.nn as nn

from .block import BlockArgs
from .errors import BlockShapeError, PluginError
from .layers import make_activation, make_norm
from .plugins import Registry
from .spec import ArchSpec, LayerSpec


def build_layer(registry: Registry, layer: LayerSpec, in_channels: int, size: int, network: str) -> nn.Module:
    """Build one layer and check, on a small dummy batch, that it maps H×W the way its block declares."""
    block = registry.block(layer.block)
    plugin = registry.plugin_of(layer.block)
    args = BlockArgs(in_channels, layer.out_channels, layer.kernel, layer.stride, layer.norm,
                     layer.activation, dict(layer.options))
    try:
        module = block.build(args)
    except Exception as exc:  # noqa: BLE001 - a plugin bug, reported with its name
        raise PluginError(f"block {layer.block!r} (plugin {plugin!r}) failed to build with {args}: "
                          f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(module, nn.Module):
        raise PluginError(f"block {layer.block!r} (plugin {plugin!r}) returned {type(module).__name__}, "
                          "not an nn.Module")
    expect_size = block.out_size(size, layer.stride)
    expected = (2, layer.out_channels, expect_size, expect_size)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            got = tuple(module(torch.zeros(2, in_channels, size, size)).shape)
    except Exception as exc:  # noqa: BLE001
        raise BlockShapeError(f"block {layer.block!r} (plugin {plugin!r}) in the {network} failed on input "
                              f"(2, {in_channels}, {size}, {size}) with kernel {layer.kernel}, stride "
                              f"{layer.stride}: {type(exc).__name__}: {exc}") from exc
    module.train(was_training)
    if got != expected:
        raise BlockShapeError(f"block {layer.block!r} (plugin {plugin!r}) in the {network} mapped "
                              f"(2, {in_channels}, {size}, {size}) to {got} with kernel {layer.kernel}, "
                              f"stride {layer.stride}; scale={block.scale!r} declares {expected}")
    return module


class Generator(nn.Module):
    def __init__(self, spec: ArchSpec, registry: Registry):
        super().__init__()
        g = spec.generator
        self.latent_dim = spec.latent_dim
        self.shape0 = (g.width, g.base_resolution, g.base_resolution)
        self.stem = nn.Linear(spec.latent_dim, g.width * g.base_resolution**2, bias=g.norm == "none")
        self.stem_norm = make_norm(g.norm, g.width)
        self.stem_act = make_activation(g.activation)
        layers, channels, size = [], g.width, g.base_resolution
        for layer in g.layers:
            layers.append(build_layer(registry, layer, channels, size, "generator"))
            channels, size = layer.out_channels, registry.block(layer.block).out_size(size, layer.stride)
        self.layers = nn.Sequential(*layers)
        assert (channels, size) == (spec.channels, spec.resolution), "space produced an infeasible generator"

    def forward(self, z):
        # (B, latent) -> (B, C0, b, b) -> ... -> (B, channels, R, R) in [-1, 1]
        x = self.stem(z).view(z.shape[0], *self.shape0)
        return self.layers(self.stem_act(self.stem_norm(x)))


class Discriminator(nn.Module):
    def __init__(self, spec: ArchSpec, registry: Registry):
        super().__init__()
        d = spec.discriminator
        layers, channels, size = [], spec.channels, spec.resolution
        for layer in d.layers:
            layers.append(build_layer(registry, layer, channels, size, "discriminator"))
            channels, size = layer.out_channels, registry.block(layer.block).out_size(size, layer.stride)
        assert size == d.base_resolution, "space produced an infeasible discriminator"
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(channels * size * size, 1)

    def forward(self, x):
        # (B, channels, R, R) -> (B, C, b, b) -> (B,) logits
        return self.head(self.layers(x).flatten(1)).squeeze(1)


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) conv/linear weights, N(1, 0.02) norm scales, zero biases (Radford et al. 2015)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build_pair(spec: ArchSpec, registry: Registry, seed: int | None = None) -> tuple[Generator, Discriminator]:
    """Both networks, DCGAN-initialised; the same seed gives the same weights."""
    if seed is not None:
        torch.manual_seed(seed)
    g, d = Generator(spec, registry), Discriminator(spec, registry)
    dcgan_init(g)
    dcgan_init(d)
    return g, d


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def preflight_blocks(space) -> None:
    """Build every listed block at every kernel, stride and output width the study may use, on a tiny input.

    A block that does not build, or does not scale H×W as it declares, fails here, before any study is created.
    """
    for network, choices in space.nets.items():
        strides = sorted({s for plan in choices.plans for s in plan})
        widths = {min(choices.space.widths), max(choices.space.widths)}
        if network == "generator":
            widths.add(space.channels)  # the last layer outputs the image
        for name in choices.space.blocks:
            block = space.registry.block(name)
            option_sets = [dict(zip(block.options, values)) for values in
                           itertools.product(*[choices.block_options[name][k] for k in block.options])]
            for stride, kernel, width, options in itertools.product(
                    strides, choices.space.kernels, sorted(widths), option_sets):
                if stride > 1 and not block.can_stride(network):
                    continue
                size = 4 * stride if block.scale == "down" else 4
                build_layer(space.registry, LayerSpec(name, kernel, stride, width, "none", "relu", options),
                            3, size, network)
