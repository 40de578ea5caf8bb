"""Sample grids: what a person looks at to judge a generator."""

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from gansearch.nets._builder import translate


def to_grid(images: torch.Tensor, columns: int | None = None, pad: int = 2, min_cell: int = 48) -> Image.Image:
    """(N, C, H, W) in [-1, 1] -> one PIL image, cells upscaled (nearest) to at least ``min_cell`` px."""
    images = images.detach().float().cpu().clamp(-1, 1)
    n, c, h, w = images.shape
    zoom = max(1, math.ceil(min_cell / h))
    if zoom > 1:
        images = images.repeat_interleave(zoom, 2).repeat_interleave(zoom, 3)
        h, w = h * zoom, w * zoom
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, dtype=np.uint8)
    pixels = ((images + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top:top + h, left:left + w] = pixels[i]
    return Image.fromarray(grid[..., 0] if c == 1 else grid, mode="L" if c == 1 else "RGB")


@torch.no_grad()
def sample_grid(generator: torch.nn.Module, n: int = 64, seed: int = 0) -> Image.Image:
    """A grid of ``n`` samples from fixed noise; a translator with ``preview_pairs`` (set by the runner)
    shows condition | output | target rows instead."""
    pairs = getattr(generator, "preview_pairs", None)
    if pairs is not None:
        from gansearch.data._images import preview_grid

        return preview_grid(generator, *pairs)
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    images = generator(z)
    generator.train(was_training)
    return to_grid(images)


def save_samples(generator: torch.nn.Module, path: Path, n: int = 64, seed: int = 0) -> Path:
    """Write a grid of ``n`` samples from fixed noise to ``path`` (PNG)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sample_grid(generator, n, seed).save(path)
    return path


@torch.no_grad()
def preview_grid(generator: nn.Module, cond: torch.Tensor, target: torch.Tensor):
    """Three labelled rows: condition, output, target (a one-channel condition shown in grey beside colour)."""
    device = next(generator.parameters()).device
    out = translate(generator, cond.to(device)).cpu()
    shown = cond.expand(-1, target.shape[1], -1, -1) if cond.shape[1] != target.shape[1] else cond
    return with_row_labels(to_grid(torch.cat([shown, out, target]), columns=len(cond)), PREVIEW_ROWS)


PREVIEW_ROWS = ("condition", "output", "target")


def with_row_labels(grid: Image.Image, labels: tuple[str, ...]) -> Image.Image:
    """``grid`` with a white margin on the left naming each of its equal-height rows."""
    from PIL import ImageDraw

    margin = 8 + 7 * max(len(label) for label in labels)  # PIL's default font: about 6-7 px a character
    labelled = Image.new(grid.mode, (grid.width + margin, grid.height), 255 if grid.mode == "L" else (255, 255, 255))
    labelled.paste(grid, (margin, 0))
    draw = ImageDraw.Draw(labelled)
    row = grid.height / len(labels)
    for i, label in enumerate(labels):
        draw.text((4, int(row * i + row / 2 - 5)), label, fill=0 if grid.mode == "L" else (0, 0, 0))
    return labelled
