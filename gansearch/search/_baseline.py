"""A hand-designed baseline trial: the classic DCGAN pair (Radford et al. 2015), fitted to a study.

The baseline answers "did the search beat the textbook design?". ``make_baseline("dcgan", config,
space)`` gives its architecture, its training values and, when the design lies inside the study's
search space, the Optuna params that make ``space.suggest`` reproduce it exactly (so it can be
enqueued as an ordinary trial); otherwise ``params`` is None and it is run as a fixed architecture.

DCGAN, adapted: the generator is a linear stem to ``width x b x b`` (batch norm, ReLU) then
stride-2, kernel-4 transposed convolutions (batch norm, ReLU; the last one to the image, no norm,
tanh); the discriminator is stride-2, kernel-4 convolutions with LeakyReLU(0.2) and batch norm on
every layer but the first, down to ``b``, then the builder's linear head. Widths follow DCGAN's
pattern (64 at the highest resolution, doubling towards the lowest) snapped to the study's widths.
"""

import math
from dataclasses import dataclass

from optuna.trial import FixedTrial

from gansearch.config._load import Range, StudyConfig
from gansearch.errors import StudyConfigError
from gansearch.nets._spec import ArchSpec, LayerSpec, NetSpec
from gansearch.search._space import INT_TRAIN_KEYS, STR_TRAIN_KEYS, TRAIN_KEYS, SearchSpace, encode_plan

BASELINES = ("dcgan", "seed")
BASELINE_TASK = {"dcgan": "generate", "seed": "translate"}

# DCGAN's training settings (Radford et al. 2015, section 3): Adam(2e-4, beta1 0.5), batch 64, z of 100.
DCGAN_TRAIN = {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "loss": "ns", "batch_size": 64,
               "d_steps": 1, "augment": "none", "l1_weight": 100.0}  # (pix2pix's L1 weight, for translate)
DCGAN_LATENT = 100
DCGAN_WIDTH = 64  # ngf = ndf = 64 at the highest-resolution hidden layer


# --- picking the study's value nearest DCGAN's --------------------------------------------------

def _nearest(values, target):
    """The element of ``values`` nearest ``target``; ties go to the larger."""
    return min(values, key=lambda v: (abs(v - target), -v))


def _clamp(rng: Range, target, integer: bool):
    """``target`` clamped into a range, on its step grid when it has one (as Optuna samples it)."""
    low, high = (int(rng.low), int(rng.high)) if integer else (rng.low, rng.high)
    step = (int(rng.step) if integer else rng.step) if rng.step is not None else (1 if integer else None)
    if step is None:
        return min(max(target, low), high)
    top = low + math.floor((high - low) / step + 1e-9) * step  # the last grid point not above high
    value = low + math.floor((min(max(target, low), top) - low) / step + 0.5) * step  # ties: the larger
    return int(value) if integer else float(value)


def _pick(value, target, integer: bool = False):
    """The study's fixed value, or the choice of a list or range nearest ``target``."""
    if isinstance(value, Range):
        return _clamp(value, target, integer)
    if isinstance(value, list):
        if isinstance(target, str):
            return target if target in value else value[0]
        return _nearest(value, target)
    return value


def _typed(key, value):
    """As ``SearchSpace.suggest`` types training values."""
    return int(value) if key in INT_TRAIN_KEYS else (value if key in STR_TRAIN_KEYS else float(value))


def dcgan_train_values(config: StudyConfig) -> dict:
    """lr_g, lr_d, beta1, beta2, loss, batch_size, d_steps: the study's own, or those nearest DCGAN's."""
    t = config.train
    return {key: _typed(key, _pick(getattr(t, key), DCGAN_TRAIN[key], key in INT_TRAIN_KEYS))
            for key in TRAIN_KEYS}


# --- the architecture -----------------------------------------------------------------------------

def _factors(n: int) -> list[int]:
    """Prime factors of ``n``, ascending (24 / 4 = 6 -> [2, 3])."""
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def _plan(factor: int) -> list[tuple[int, int]]:
    """(stride, kernel) per layer: DCGAN's k4/s2 is kernel 2s; no resampling at all is one k3/s1 layer."""
    return [(s, 2 * s) for s in _factors(factor)] or [(1, 3)]


def _snap(width: int, widths: list[int]) -> int:
    return int(_nearest(widths, width))


def dcgan_arch(config: StudyConfig, channels: int, space: SearchSpace) -> ArchSpec:
    """The DCGAN generator/discriminator pair at the study's resolution, base resolutions and widths."""
    deconv, conv = "deconv", "conv"
    for block in (deconv, conv):  # registered by the builtin plugin whether or not the study lists them
        space.registry.block(block)
    res, gs, ds = config.data.resolution, config.generator, config.discriminator

    # Generator: low -> high resolution; the hidden layer before the image has 64 channels, each
    # earlier one twice its successor's, the stem twice the first layer's (ngf*8 at 4x4 for 64x64).
    plan = _plan(res // gs.base_resolution)
    n = len(plan)
    layers = []
    for i, (stride, kernel) in enumerate(plan):
        if i == n - 1:
            layers.append(LayerSpec(deconv, kernel, stride, channels, "none", "tanh", {}))
        else:
            width = _snap(DCGAN_WIDTH * 2 ** (n - 2 - i), gs.widths)
            layers.append(LayerSpec(deconv, kernel, stride, width, "batch", "relu", {}))
    stem = _snap(DCGAN_WIDTH * 2 ** (n - 1), gs.widths)
    g = NetSpec(tuple(layers), stem, gs.base_resolution, "batch", "relu")

    # Discriminator: the mirror image, high -> low resolution, 64 channels first then doubling;
    # no norm on the first layer (it sees the image), batch norm after, LeakyReLU(0.2) throughout.
    plan = _plan(res // ds.base_resolution)[::-1]
    layers = [LayerSpec(conv, kernel, stride, _snap(DCGAN_WIDTH * 2**i, ds.widths),
                        "none" if i == 0 else "batch", "lrelu", {})
              for i, (stride, kernel) in enumerate(plan)]
    d = NetSpec(tuple(layers), 0, ds.base_resolution, "batch", "lrelu")  # norm as the space records it

    latent = int(_pick(config.train.latent_dim, DCGAN_LATENT, integer=True))
    return ArchSpec(res, channels, latent, g, d)


# --- the same design as Optuna params -------------------------------------------------------------

class _Outside(Exception):
    """The baseline needs a value the study's search space does not offer."""


def baseline_params(space: SearchSpace, arch: ArchSpec, train: dict) -> dict | None:
    """Params that make ``space.suggest(FixedTrial(params), seed)`` return exactly ``arch`` and ``train``,
    or None when the baseline lies outside the study's search space."""
    params = {}

    def put(name, choices, value):  # as space._choose: a single choice is not asked
        choices = list(choices)
        if value not in choices:
            raise _Outside(name)
        if len(choices) > 1:
            params[name] = value

    def put_param(name, offered, value):  # as space._param: a range, a list or a fixed value
        if isinstance(offered, Range):
            params[name] = value  # whether it lies in the range is checked below
        elif isinstance(offered, list):
            put(name, offered, value)
        elif offered != value:
            raise _Outside(name)

    try:
        put_param("latent_dim", space.config.train.latent_dim, arch.latent_dim)
        for c, net in ((space.nets["generator"], arch.generator), (space.nets["discriminator"], arch.discriminator)):
            p, is_g = c.prefix, c.network == "generator"
            plan = tuple(layer.stride for layer in net.layers)
            put(f"{p}.strides", [encode_plan(x) for x in c.plans], encode_plan(plan))
            put(f"{p}.norm", c.space.norms, net.norm)
            put(f"{p}.activation", c.space.activations, net.activation)
            if is_g:
                put(f"{p}.stem.width", c.space.widths, net.width)
            for i, layer in enumerate(net.layers):
                put(*c.block_param(i, layer.stride), layer.block)
                put(*c.kernel_param(i, layer.block), layer.kernel)
                for key, offered in c.block_options[layer.block].items():
                    put(f"{p}.{i}.{layer.block}.{key}", offered, layer.options.get(key))
                if not (is_g and i == len(net.layers) - 1):  # the image layer's width is the channels
                    put(f"{p}.{i}.width", c.space.widths, layer.out_channels)
        for key in TRAIN_KEYS:
            put_param(key, getattr(space.config.train, key), train[key])

        # Verify: the space asks exactly these params, each inside its distribution, and rebuilds the pair.
        trial = FixedTrial(params)
        got_arch, got_train = space.suggest(trial, 0)
        asked = trial.distributions
        if set(asked) != set(params):
            return None
        if not all(dist._contains(dist.to_internal_repr(params[name])) for name, dist in asked.items()):
            return None
        if got_arch != arch or any(getattr(got_train, key) != train[key] for key in TRAIN_KEYS):
            return None
    except Exception:  # noqa: BLE001 - _Outside, or a value the space's distributions reject
        return None
    return params


@dataclass(frozen=True)
class Baseline:
    name: str
    arch: ArchSpec
    train: dict  # lr_g, lr_d, beta1, beta2, loss, batch_size, d_steps
    params: dict | None  # None: outside the study's search space (run as a fixed architecture)


def seed_arch(config: StudyConfig, channels: int, cond_channels: int) -> ArchSpec:
    """The design note's image-to-image pair (Keras Conv2D / Conv2DTranspose, padding 'same', biases, no norm).

    G: conv 64 k4 s2, lrelu, deconv 64 k4 s2, lrelu, conv 32 k4 s2, lrelu, deconv 32 k4 s2, lrelu, conv C k4 s1
    (tanh, so images stay in [-1, 1]); D: conv 64/128/256/512 k4 s2 with LeakyReLU(0.2), flatten, dense to one
    logit (the sigmoid is in the loss). At 256x256x3 that is 119,491 and 2,887,617 parameters. A smaller
    resolution keeps G and as many of D's four layers as halve it to at least 1x1.
    """
    r = config.data.resolution
    if r % 4:
        raise StudyConfigError(f"the seed pair halves the image twice: data.resolution {r} must be a multiple of 4",
                               file=config.file, key="baseline")
    lrelu = "lrelu"
    g = NetSpec((LayerSpec("conv", 4, 2, 64, "none", lrelu), LayerSpec("deconv", 4, 2, 64, "none", lrelu),
                 LayerSpec("conv", 4, 2, 32, "none", lrelu), LayerSpec("deconv", 4, 2, 32, "none", lrelu),
                 LayerSpec("conv", 4, 1, channels, "none", "tanh")), 0, r // 2, "none", lrelu)
    n = min(4, r.bit_length() - 1)
    d = NetSpec(tuple(LayerSpec("conv", 4, 2, 64 * 2**i, "none", lrelu) for i in range(n)), 0, r >> n, "none", lrelu)
    return ArchSpec(r, channels, 0, g, d, task="translate", cond_channels=cond_channels)


def make_baseline(name: str, config: StudyConfig, space: SearchSpace) -> Baseline:
    """The named hand design fitted to the study: ``dcgan`` (generate) or ``seed`` (translate)."""
    if name not in BASELINES:
        raise StudyConfigError(f"unknown baseline {name!r}; available: {', '.join(BASELINES)}",
                               file=config.file, key="baseline")
    if BASELINE_TASK[name] != config.task:
        other = [b for b, t in BASELINE_TASK.items() if t == config.task]
        raise StudyConfigError(f"baseline {name!r} is for task {BASELINE_TASK[name]!r}; a {config.task} study "
                               f"can use {', '.join(other)} or none", file=config.file, key="baseline")
    if name == "seed":
        return Baseline(name, seed_arch(config, space.channels, space.cond_channels), dcgan_train_values(config), None)
    arch = dcgan_arch(config, space.channels, space)
    train = dcgan_train_values(config)
    return Baseline(name, arch, train, baseline_params(space, arch, train))
