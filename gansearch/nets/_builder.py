"""ArchSpec + registry -> generator and discriminator modules, shape-checked layer by layer."""

import contextlib
import itertools
from dataclasses import dataclass

import torch
import torch.nn as nn

from gansearch._seeds import seeded_cpu
from gansearch.errors import BlockShapeError, PluginError, TrialDiverged
from gansearch.nets._spec import ArchSpec, LayerSpec
from gansearch.plugins._block import BlockArgs
from gansearch.plugins._layers import make_activation, make_norm
from gansearch.plugins._registry import Registry


def build_layer(registry: Registry, layer: LayerSpec, in_channels: int, size: int, network: str,
                index: int = 0, last: bool = False) -> nn.Module:
    """Build one layer and check, on a small dummy batch, that it maps H×W the way its block declares."""
    block = registry.block(layer.block)
    plugin = registry.plugin_of(layer.block)
    if not block.supports(layer.kernel, layer.stride):
        raise PluginError(f"block {layer.block!r} (plugin {plugin!r}) does not support kernel {layer.kernel} "
                          f"with stride {layer.stride} (it declares scale={block.scale!r}, strides={block.strides}, "
                          f"kernels={block.kernels})")
    args = BlockArgs(in_channels, layer.out_channels, layer.kernel, layer.stride, layer.norm,
                     layer.activation, dict(layer.options), network, index, index == 0, last)
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
    module._gansearch_layer = (layer.block, plugin, network, index, layer.out_channels, expect_size)  # see blame
    if got != expected:
        raise BlockShapeError(f"block {layer.block!r} (plugin {plugin!r}) in the {network} mapped "
                              f"(2, {in_channels}, {size}, {size}) to {got} with kernel {layer.kernel}, "
                              f"stride {layer.stride}; scale={block.scale!r} declares {expected}")
    return module


def blame(net: nn.Module, x: torch.Tensor) -> BlockShapeError | None:
    """The first layer of ``net`` whose output on ``x`` (a training batch, in the net's current mode) is not
    the (B, C, H, W) its block declared when built, as an error naming block, plugin and layer; or None.
    For a failure during training that the layer itself does not name (``mat1 and mat2 shapes ...``)."""
    found = []

    def check(module, inputs, output):
        block, plugin, network, index, channels, size = module._gansearch_layer
        expected = (inputs[0].shape[0], channels, size, size)
        got = tuple(getattr(output, "shape", ()))
        if not found and got != expected:
            found.append(BlockShapeError(
                f"block {block!r} (plugin {plugin!r}), layer {index} of the {network}, mapped "
                f"{tuple(inputs[0].shape)} to {got} during training; its block declares {expected}"))
            raise _Found

    hooks = [m.register_forward_hook(check) for m in net.modules() if hasattr(m, "_gansearch_layer")]
    try:
        with torch.no_grad():
            net(x)
    except Exception:  # noqa: BLE001 - _Found, or the failure itself after a layer that looked right
        pass
    finally:
        for h in hooks:
            h.remove()
    return found[0] if found else None


class _Found(Exception):
    pass


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
        for i, layer in enumerate(g.layers):
            layers.append(build_layer(registry, layer, channels, size, "generator", i, i == len(g.layers) - 1))
            channels, size = layer.out_channels, registry.block(layer.block).out_size(size, layer.stride)
        self.layers = nn.Sequential(*layers)
        self.upsampling = upsampling_layers(spec, registry)
        assert (channels, size) == (spec.channels, spec.resolution), "space produced an infeasible generator"

    def forward(self, z):
        # (B, latent) -> (B, C0, b, b) -> ... -> (B, channels, R, R) in [-1, 1]
        x = self.stem(z).view(z.shape[0], *self.shape0)
        return self.layers(self.stem_act(self.stem_norm(x)))


def upsampling_layers(spec: ArchSpec, registry: Registry) -> tuple[tuple[int, int], ...]:
    """(side of the map it enlarges, stride) of each of the generator's upsampling layers, input to output:
    where its checkerboard artifacts may fall (``gansearch.builtin.spectral``)."""
    g = spec.generator
    size = g.base_resolution if spec.task == "generate" else spec.resolution
    out = []
    for layer in g.layers:
        block = registry.block(layer.block)
        if layer.stride > 1 and block.scale == "up":
            out.append((size, layer.stride))
        size = block.out_size(size, layer.stride)
    return tuple(out)


@dataclass(frozen=True)
class Skip:
    """A translator layer's part in its U-Net skips."""

    keeps: bool  # its input is kept, to be joined later to an up layer's output of the same size
    joins: int  # channels of a kept map joined (concatenated) to its input; 0: none


def skip_plan(spec: ArchSpec, registry: Registry) -> list[Skip]:
    """Where a translator's U-Net skips go (``generator.skips``): the input of a down layer is kept, and the
    output of an up layer that returns to a kept size is joined with it before the next layer (the last
    layer's output is the image: nothing is joined to it, and what it would have taken is not kept)."""
    g = spec.generator
    joins, kept, join = [], [], 0  # kept: (size, channels, layer) of the inputs of down layers, innermost last
    used = set()  # layers whose kept input is joined later
    channels, size = spec.cond_channels, spec.resolution
    for i, layer in enumerate(g.layers):
        block = registry.block(layer.block)
        joins.append(join)
        channels, join = channels + join, 0
        if g.skips and layer.stride > 1 and block.scale == "down":
            kept.append((size, channels, i))
        channels, size = layer.out_channels, block.out_size(size, layer.stride)
        if g.skips and layer.stride > 1 and block.scale == "up" and kept and kept[-1][0] == size:
            _, joined, source = kept.pop()
            if i < len(g.layers) - 1:
                join = joined
                used.add(source)
    return [Skip(i in used, joins[i]) for i in range(len(g.layers))]


class Translator(nn.Module):
    """Image-to-image generator: condition (B, Cc, R, R) -> image (B, C, R, R) through a scale plan of
    down, same-size and up layers whose scales multiply to 1. With skips (U-Net), the input of each down
    layer is kept, and the output of an up layer that returns to its size is joined with it (channels
    concatenated) before the next layer."""

    def __init__(self, spec: ArchSpec, registry: Registry):
        super().__init__()
        g = spec.generator
        self.latent_dim = 0  # no noise input: samples come from conditions (see translation.py)
        self.cond_channels = spec.cond_channels
        plan = skip_plan(spec, registry)
        self.push, self.pop = [p.keeps for p in plan], [p.joins > 0 for p in plan]
        layers, channels, size = [], spec.cond_channels, spec.resolution
        for i, (layer, skip) in enumerate(zip(g.layers, plan)):
            channels += skip.joins
            layers.append(build_layer(registry, layer, channels, size, "translator", i, i == len(g.layers) - 1))
            channels, size = layer.out_channels, registry.block(layer.block).out_size(size, layer.stride)
        self.layers = nn.ModuleList(layers)
        self.upsampling = upsampling_layers(spec, registry)
        assert (channels, size) == (spec.channels, spec.resolution), "space produced an infeasible translator"

    def forward(self, cond):
        # (B, Cc, R, R) -> ... down / same / up ... -> (B, C, R, R) in [-1, 1]
        x, kept = cond, []
        for layer, push, pop in zip(self.layers, self.push, self.pop):
            if pop:
                x = torch.cat([x, kept.pop()], 1)
            if push:
                kept.append(x)
            x = layer(x)
        return x


class Discriminator(nn.Module):
    def __init__(self, spec: ArchSpec, registry: Registry):
        super().__init__()
        d = spec.discriminator
        channels = spec.channels + (spec.cond_channels if d.conditional else 0)
        layers, size = [], spec.resolution
        for i, layer in enumerate(d.layers):
            layers.append(build_layer(registry, layer, channels, size, "discriminator", i, i == len(d.layers) - 1))
            channels, size = layer.out_channels, registry.block(layer.block).out_size(size, layer.stride)
        assert size == d.base_resolution, "space produced an infeasible discriminator"
        self.layers = nn.Sequential(*layers)
        self.patch = d.head == "patch"
        self.conditional = d.conditional
        self.head = nn.Conv2d(channels, 1, 1) if self.patch else nn.Linear(channels * size * size, 1)

    def forward(self, x):
        # dense: (B, C_in, R, R) -> (B, C, b, b) -> (B,) logits; patch: -> (B, b*b) logits, one per patch
        h = self.layers(x)
        if self.patch:
            return self.head(h).flatten(1)
        return self.head(h.flatten(1)).squeeze(1)


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


TRANSLATE_BATCH = 64  # conditions per forward pass when translating many


def build_pair(spec: ArchSpec, registry: Registry, seed: int | None = None) -> tuple[nn.Module, Discriminator]:
    """Both networks, DCGAN-initialised on the CPU; the same seed gives the same weights (drawn from the
    default CPU generator seeded for the purpose, its state restored afterwards)."""
    with seeded_cpu(seed) if seed is not None else contextlib.nullcontext():
        g = Translator(spec, registry) if spec.task == "translate" else Generator(spec, registry)
        d = Discriminator(spec, registry)
        dcgan_init(g)
        dcgan_init(d)
    return g, d


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def preflight_blocks(space) -> None:
    """Build every listed block at every kernel, stride and output width the study may use, on a tiny input.

    A block that does not build, or does not scale H×W as it declares, fails here, before any study is created.
    """
    for choices in space.nets.values():
        network = choices.network
        strides = sorted({s[1] if isinstance(s, tuple) else s for plan in choices.plans for s in plan})
        widths = {min(choices.space.widths), max(choices.space.widths)}
        if network in ("generator", "translator"):
            widths.add(space.channels)  # the last layer outputs the image
        for name in choices.space.blocks:
            block = space.registry.block(name)
            option_sets = [dict(zip(block.options, values)) for values in
                           itertools.product(*[choices.block_options[name][k] for k in block.options])]
            for stride, kernel, width, options in itertools.product(
                    strides, choices.space.kernels, sorted(widths), option_sets):
                if (stride > 1 and not block.can_stride(network)) or not block.supports(kernel, stride):
                    continue
                size = 4 * stride if block.scale == "down" else 4
                build_layer(space.registry, LayerSpec(name, kernel, stride, width, "none", "relu", options),
                            3, size, network)


@torch.no_grad()
def translate(generator: nn.Module, cond: torch.Tensor) -> torch.Tensor:
    """The generator's outputs for conditions (N, Cc, R, R), in eval mode, in batches."""
    was_training = generator.training
    generator.eval()
    out = torch.cat([generator(cond[i:i + TRANSLATE_BATCH]) for i in range(0, len(cond), TRANSLATE_BATCH)])
    generator.train(was_training)
    if not torch.isfinite(out).all():
        raise TrialDiverged("the generator produced non-finite images")
    return out
