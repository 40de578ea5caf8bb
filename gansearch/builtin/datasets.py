"""Built-in datasets: scikit-learn's digits, procedural coloured shapes and a folder of images."""

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from ..dataset import REQUIRED, DataRequest, Dataset
from ..errors import DatasetError
from ..hookspecs import hookimpl

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as PIL's "L"


def uint8_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) -> contiguous float32 (N, C, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous().float()
    return x.div_(127.5).sub_(1.0)


# -- digits -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _digit_images() -> np.ndarray:
    from sklearn.datasets import load_digits  # imported here: scikit-learn takes ~0.8 s to import

    return load_digits().images  # (1797, 8, 8) float64, values 0..16


def load_digits(request: DataRequest) -> torch.Tensor:
    """The 1,797 8×8 digits, resized bilinearly to the requested resolution."""
    x = torch.from_numpy(_digit_images() / 16.0).float().unsqueeze(1)  # (N, 1, 8, 8) in [0, 1]
    r = request.resolution
    if r != x.shape[-1]:
        x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=r < x.shape[-1])
    x = x.clamp(0.0, 1.0) * 2.0 - 1.0
    if request.channels == 3:
        x = x.expand(-1, 3, -1, -1)
    return x.contiguous()


# -- shapes -------------------------------------------------------------------------------------


SHAPE_TESTS = (  # (dx, dy, size) -> inside mask, offsets from the centre as fractions of the image
    lambda dx, dy, s: dx * dx + dy * dy <= s * s,  # circle of radius s
    lambda dx, dy, s: (np.abs(dx) <= 0.8 * s) & (np.abs(dy) <= 0.8 * s),  # square
    # apex-up equilateral triangle: apex at -s, base at +s/2, sides at 60°
    lambda dx, dy, s: (dy <= 0.5 * s) & (np.abs(dx) * np.float32(np.sqrt(3)) <= dy + s),
)


def load_shapes(request: DataRequest) -> torch.Tensor:
    """``count`` images of one filled circle, square or triangle each, drawn from ``request.seed``.

    Each image gets a dark background and a light shape, or the other way round, so the shape
    stays visible in grayscale too. Sizes are 15–40% of the image, the shape fully inside it.
    """
    n, r = _positive_int(request.options.get("count", 4096), "shapes", "count"), request.resolution
    rng = np.random.default_rng(request.seed)
    kind = rng.integers(0, 3, n)  # 0 circle, 1 square, 2 triangle
    size = rng.uniform(0.15, 0.40, n).astype(np.float32)  # radius / half-side, fraction of the image
    cx = (size + rng.uniform(0, 1, n) * (1 - 2 * size)).astype(np.float32)
    cy = (size + rng.uniform(0, 1, n) * (1 - 2 * size)).astype(np.float32)
    dark = rng.uniform(0.0, 0.4, (n, 3)).astype(np.float32)
    light = rng.uniform(0.5, 1.0, (n, 3)).astype(np.float32)
    swap = rng.random(n) < 0.5
    bg, fg = np.where(swap[:, None], light, dark), np.where(swap[:, None], dark, light)

    # Pixel centres in [0, 1]; per-image parameters broadcast as (n, 1, 1) against (r, r).
    t = (np.arange(r, dtype=np.float32) + 0.5) / r
    dx = t[None, None, :] - cx[:, None, None]  # (n, 1, r)
    dy = t[None, :, None] - cy[:, None, None]  # (n, r, 1)
    inside = np.empty((n, r, r), dtype=bool)
    for k, test in enumerate(SHAPE_TESTS):
        i = kind == k
        inside[i] = test(dx[i], dy[i], size[i, None, None])

    if request.channels == 1:
        bg, fg = bg @ LUMA[:, None], fg @ LUMA[:, None]  # (n, 1) luminance
    bg, fg = (np.rint(c * 255).astype(np.uint8)[:, None, None, :] for c in (bg, fg))
    return uint8_to_tensor(np.where(inside[..., None], fg, bg))  # (n, r, r, C)


# -- folder -------------------------------------------------------------------------------------


def load_folder(request: DataRequest) -> torch.Tensor:
    """Every PNG/JPEG under ``path`` (recursive, sorted), resized by its short side and centre-cropped."""
    if request.options.get("path", REQUIRED) is REQUIRED:
        raise DatasetError("folder dataset: option path is required", option="path")
    path = Path(request.options["path"]).expanduser()
    path = (path if path.is_absolute() else Path(request.base_dir) / path).resolve()
    if not path.exists():
        raise DatasetError(f"folder dataset: path {path} does not exist", option="path")
    if not path.is_dir():
        raise DatasetError(f"folder dataset: path {path} is not a directory", option="path")
    files = sorted((p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                   key=lambda p: p.relative_to(path).as_posix())
    if not files:
        raise DatasetError(f"folder dataset: no PNG/JPEG files found in {path}", option="path")
    limit = request.options.get("limit")
    if limit is not None:
        files = files[: _positive_int(limit, "folder", "limit")]

    mode, r = ("L" if request.channels == 1 else "RGB"), request.resolution
    out = np.empty((len(files), r, r, request.channels), dtype=np.uint8)
    for i, f in enumerate(files):
        out[i] = _read_square(f, mode, r).reshape(r, r, -1)
    return uint8_to_tensor(out)


def _read_square(file: Path, mode: str, r: int) -> np.ndarray:
    """One image as uint8 (r, r[, 3]): short side resized to r, then the centre r × r."""
    try:
        with Image.open(file) as im:
            im = ImageOps.exif_transpose(im).convert(mode)
            w, h = im.size
            scale = r / min(w, h)
            nw, nh = max(r, round(w * scale)), max(r, round(h * scale))
            im = im.resize((nw, nh), Image.Resampling.BICUBIC)
            left, top = (nw - r) // 2, (nh - r) // 2
            return np.asarray(im.crop((left, top, left + r, top + r)))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DatasetError(f"folder dataset: cannot read image {file}: {e}") from e


def _positive_int(value, dataset: str, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DatasetError(f"{dataset} dataset: option {option} must be a positive integer, got {value!r}", option=option)
    return value


@hookimpl
def register_datasets(register):
    register(Dataset("digits", load_digits, channels=1,
                     description="scikit-learn's 1,797 8×8 handwritten digits (bundled, no download)"))
    register(Dataset("shapes", load_shapes, options={"count": 4096}, channels=3,
                     description="procedural filled circles, squares and triangles, seeded"))
    register(Dataset("folder", load_folder, options={"path": REQUIRED, "limit": None}, channels=3,
                     description="PNG/JPEG images under a folder, short-side resized and centre-cropped"))
