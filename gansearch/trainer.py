"""The shared trainer: a short GAN run on a device-resident dataset, scored every ``eval_every`` steps."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import TrialDiverged
from .spec import TrainSpec


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def d_loss(loss: str, real_logits, fake_logits):
    if loss == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()  # non-saturating


def g_loss(loss: str, fake_logits):
    if loss == "hinge":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()


@dataclass
class TrainResult:
    score: float
    steps: int
    history: list[tuple[int, float]] = field(default_factory=list)  # (step, score)


def train(generator: nn.Module, discriminator: nn.Module, data: torch.Tensor, spec: TrainSpec,
          score: Callable[[nn.Module], float], on_eval: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train for ``spec.steps`` steps; ``data`` is (N, C, H, W) in [-1, 1], already on the device.

    Every ``eval_every`` steps (and at the end) the generator is scored and ``on_eval(step, score)``
    is called; it may raise ``optuna.TrialPruned`` to stop early. A non-finite loss or score raises
    ``TrialDiverged``.
    """
    device = data.device
    gen = torch.Generator(device=device).manual_seed(spec.seed)
    opt_g = torch.optim.Adam(generator.parameters(), lr=spec.lr_g, betas=(spec.beta1, spec.beta2))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=spec.lr_d, betas=(spec.beta1, spec.beta2))
    n, b, latent = data.shape[0], spec.batch_size, generator.latent_dim
    history = []
    for step in range(1, spec.steps + 1):
        for k in range(spec.d_steps):
            real = data[torch.randint(n, (b,), generator=gen, device=device)]
            z = torch.randn(b, latent, generator=gen, device=device)
            last = k == spec.d_steps - 1
            with torch.set_grad_enabled(last):  # the last fake batch also serves the generator step
                fake = generator(z)
            loss_d = d_loss(spec.loss, discriminator(real), discriminator(fake.detach()))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        discriminator.requires_grad_(False)  # the generator step needs no D weight gradients
        loss_g = g_loss(spec.loss, discriminator(fake))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        discriminator.requires_grad_(True)
        if step % spec.eval_every == 0 or step == spec.steps:
            if not (math.isfinite(loss_d.item()) and math.isfinite(loss_g.item())):
                raise TrialDiverged(f"non-finite loss at step {step} (D {loss_d.item()}, G {loss_g.item()})")
            value = score(generator)
            if not math.isfinite(value):
                raise TrialDiverged(f"non-finite score at step {step}")
            history.append((step, value))
            if on_eval is not None:
                on_eval(step, value)
    return TrainResult(history[-1][1], spec.steps, history)
