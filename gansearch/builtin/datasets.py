"""Built-in datasets: scikit-learn's digits, procedural coloured shapes and a folder of images."""

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from gansearch.errors import DatasetError, GansearchWarning
from gansearch.plugins._dataset import REQUIRED, DataRequest, Dataset, Paired
from gansearch.plugins._hookspecs import hookimpl

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
GRAY_MODES = {"1", "L", "LA", "La", "I", "F"}  # Pillow modes without colour ("I;16*" too)
ON_ERROR = ("skip", "fail")  # the folder dataset's on_error values: skip unreadable images, or stop
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as PIL's "L"


def uint8_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) -> contiguous float32 (N, C, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous().float()
    return x.div_(127.5).sub_(1.0)


# -- digits -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # imported here: scikit-learn takes ~0.8 s to import

    bunch = load_digits()
    return bunch.images, bunch.target  # (1797, 8, 8) float64 with values 0..16; (1797,) labels


def load_digits(request: DataRequest) -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,797 8×8 digits, resized bilinearly to the requested resolution, and their labels 0-9."""
    images, labels = _digits()
    x = torch.from_numpy(images / 16.0).float().unsqueeze(1)  # (N, 1, 8, 8) in [0, 1]
    r = request.resolution
    if r != x.shape[-1]:
        x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=r < x.shape[-1])
    x = x.clamp(0.0, 1.0) * 2.0 - 1.0
    if request.channels == 3:
        x = x.expand(-1, 3, -1, -1)
    return x.contiguous(), torch.from_numpy(labels).long()


# -- shapes -------------------------------------------------------------------------------------


SQRT3 = np.float32(np.sqrt(3))


def _box(dx, dy, s):
    """Offsets inside the square of half-side 0.8 s as (u, v): u from its left edge, v up from its bottom."""
    u, v = dx + 0.8 * s, 0.8 * s - dy
    return u, v, (u >= 0) & (v >= 0) & (u <= 1.6 * s) & (v <= 1.6 * s)


def _right_triangle(dx, dy, s):
    u, v, inside = _box(dx, dy, s)
    return inside & (u + v <= 1.6 * s)


def _ell(dx, dy, s):
    u, v, inside = _box(dx, dy, s)
    return inside & ((u <= 0.55 * s) | (v <= 0.55 * s))


def _quarter_disc(dx, dy, s):
    u, v, inside = _box(dx, dy, s)
    return inside & (u * u + v * v <= (1.6 * s) ** 2)


# (dx, dy, size) -> inside mask; offsets from the centre as fractions of the image, dy grows downwards.
# Ten classes; several are chiral, so a left-right flip or a 180° rotation changes the distribution.
SHAPES = {
    "circle": lambda dx, dy, s: dx * dx + dy * dy <= s * s,
    "square": lambda dx, dy, s: (np.abs(dx) <= 0.8 * s) & (np.abs(dy) <= 0.8 * s),
    "triangle": lambda dx, dy, s: (dy <= 0.5 * s) & (np.abs(dx) * SQRT3 <= dy + s),  # apex up
    "ring": lambda dx, dy, s: ((dx * dx + dy * dy) <= s * s) & ((dx * dx + dy * dy) >= (0.55 * s) ** 2),
    "plus": lambda dx, dy, s: (((np.abs(dx) <= 0.3 * s) & (np.abs(dy) <= s))
                               | ((np.abs(dy) <= 0.3 * s) & (np.abs(dx) <= s))),
    "right_triangle": _right_triangle,  # right angle bottom-left
    "ell": _ell,  # an L: bars on the left and at the bottom
    "arrow": lambda dx, dy, s: (dx >= -0.5 * s) & (np.abs(dy) * SQRT3 <= s - dx),  # a triangle pointing right
    "half_disc": lambda dx, dy, s: (dx * dx + (dy - 0.4 * s) ** 2 <= s * s) & (dy <= 0.4 * s),  # dome up
    "quarter_disc": _quarter_disc,  # corner bottom-left
}


def load_shapes(request: DataRequest) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images of one filled shape each (ten classes, ``SHAPES``), drawn from ``request.seed``;
    returns the images and their class labels.

    Each image gets a dark background and a light shape, or the other way round, so the shape
    stays visible in grayscale too. Sizes are 15–40% of the image, the shape fully inside it.
    """
    n, r = _positive_int(request.options.get("count", 4096), "shapes", "count"), request.resolution
    rng = np.random.default_rng(request.seed)
    kind = rng.integers(0, len(SHAPES), n)  # the class: an index into SHAPES
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
    for k, test in enumerate(SHAPES.values()):
        i = kind == k
        inside[i] = test(dx[i], dy[i], size[i, None, None])

    if request.channels == 1:
        bg, fg = bg @ LUMA[:, None], fg @ LUMA[:, None]  # (n, 1) luminance
    bg, fg = (np.rint(c * 255).astype(np.uint8)[:, None, None, :] for c in (bg, fg))
    images = uint8_to_tensor(np.where(inside[..., None], fg, bg))  # (n, r, r, C) -> (n, C, r, r)
    return images, torch.from_numpy(kind).long()


# -- folder -------------------------------------------------------------------------------------


def _image_files(path: Path) -> list[Path]:
    """The images under ``path``, recursively, in a stable order; hidden files and folders are not images."""
    return sorted((p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(path).parts)),
                  key=lambda p: p.relative_to(path).as_posix())


def _limit(request: DataRequest, files) -> int:
    limit = request.options.get("limit")
    return len(files) if limit is None else _positive_int(limit, "folder", "limit")


def count_folder(request: DataRequest) -> int:
    """How many images ``load_folder`` would read (0 when the folder is missing: its load says why)."""
    path = Path(request.options.get("path") or ".").expanduser()
    path = (path if path.is_absolute() else Path(request.base_dir) / path).resolve()
    if not path.is_dir():
        return 0
    files = _image_files(path)
    return min(_limit(request, files), len(files))


def load_folder(request: DataRequest) -> torch.Tensor:
    """Every PNG/JPEG under ``path`` (recursive, sorted), resized by its short side and centre-cropped.

    Hidden files and folders (``.name``, macOS's ``._name.png``) are not images. An unreadable image is
    skipped with one warning for all of them (``on_error: skip``) or stops the load (``on_error: fail``).
    """
    if request.options.get("path", REQUIRED) is REQUIRED:
        raise DatasetError("folder dataset: option path is required", option="path")
    on_error = request.options.get("on_error", "skip")
    if on_error not in ON_ERROR:
        raise DatasetError(f"folder dataset: option on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}",
                           option="on_error")
    path = Path(request.options["path"]).expanduser()
    path = (path if path.is_absolute() else Path(request.base_dir) / path).resolve()
    if not path.exists():
        raise DatasetError(f"folder dataset: path {path} does not exist", option="path")
    if not path.is_dir():
        raise DatasetError(f"folder dataset: path {path} is not a directory", option="path")
    files = _image_files(path)
    if not files:
        raise DatasetError(f"folder dataset: no PNG/JPEG files found in {path}", option="path")
    limit = _limit(request, files)

    mode, r = ("L" if request.channels == 1 else "RGB"), request.resolution
    out = np.empty((min(limit, len(files)), r, r, request.channels), dtype=np.uint8)
    n = tried = gray = 0
    unreadable = []  # (file, reason)
    for f in files:
        if n == len(out):
            break
        tried += 1
        try:
            image, source_mode = _read_square(f, mode, r)
        except _Unreadable as exc:
            if on_error == "fail":
                raise DatasetError(f"folder dataset: cannot read image {f}: {exc}") from exc.__cause__
            unreadable.append((f, exc))
            continue
        out[n] = image.reshape(r, r, -1)
        gray += source_mode in GRAY_MODES or source_mode.startswith("I;16")
        n += 1
    if unreadable:
        first = f"first: {unreadable[0][0]}: {unreadable[0][1]}"
        if n == 0:
            raise DatasetError(f"folder dataset: none of the {tried} images under {path} could be read ({first})",
                               option="path")
        warnings.warn(f"folder dataset: skipped {len(unreadable)} unreadable image{'s' * (len(unreadable) > 1)} "
                      f"of {tried} under {path} ({first}); set data.on_error: fail to stop instead",
                      GansearchWarning, stacklevel=2)
    if request.channels == 3 and gray == n:
        warnings.warn(f"folder dataset: {gray} of {n} images under {path} are grayscale, read as 3 equal channels; "
                      "set data.channels: 1 to train on one channel", GansearchWarning, stacklevel=2)
    return uint8_to_tensor(out[:n])


def _read_square(file: Path, mode: str, r: int) -> tuple[np.ndarray, str]:
    """One image as uint8 (r, r[, 3]): short side resized to r, then the centre r × r; and its own mode."""
    try:
        with warnings.catch_warnings():  # Pillow's decompression-bomb warning makes the image unreadable
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as im:
                source_mode = im.mode
                im = ImageOps.exif_transpose(im).convert(mode)
                w, h = im.size
                scale = r / min(w, h)
                nw, nh = max(r, round(w * scale)), max(r, round(h * scale))
                im = im.resize((nw, nh), Image.Resampling.BICUBIC)
                left, top = (nw - r) // 2, (nh - r) // 2
                return np.asarray(im.crop((left, top, left + r, top + r))), source_mode
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise _Unreadable(f"decompression bomb check: {str(e).rstrip('.')}") from e
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise _Unreadable(str(e).replace(f" {str(file)!r}", "") or type(e).__name__) from e  # Pillow repeats the path


def load_paired_folder(request: DataRequest) -> Paired:
    """Image pairs for translate studies: files with the same relative path under ``path`` (conditions)
    and ``target``, or, without ``target``, side-by-side images under ``path`` (left half the condition,
    right half the target, as pix2pix datasets ship; ``direction: BtoA`` swaps them)."""
    if request.options.get("path", REQUIRED) is REQUIRED:
        raise DatasetError("paired_folder dataset: option path is required", option="path")
    direction = request.options.get("direction", "AtoB")
    if direction not in ("AtoB", "BtoA"):
        raise DatasetError(f"paired_folder dataset: option direction must be AtoB or BtoA, got {direction!r}",
                           option="direction")
    base = Path(request.base_dir)

    def folder(option):
        p = Path(request.options[option]).expanduser()
        p = (p if p.is_absolute() else base / p).resolve()
        if not p.is_dir():
            raise DatasetError(f"paired_folder dataset: {option} {p} is not a directory", option=option)
        return p

    def images(root):
        return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
                if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(root).parts)}

    mode, r = ("L" if request.channels == 1 else "RGB"), request.resolution
    a_root = folder("path")
    a_files = images(a_root)
    pairs = []
    try:
        if request.options.get("target") is not None:
            b_files = images(folder("target"))
            common = sorted(set(a_files) & set(b_files))
            if not common:
                raise DatasetError(f"paired_folder dataset: no file names in common under {a_root} and the target "
                                   "folder", option="target")
            for name in common:
                pairs.append((_read_square(a_files[name], mode, r)[0], _read_square(b_files[name], mode, r)[0]))
        else:
            for name, f in a_files.items():
                with Image.open(f) as im:
                    im = ImageOps.exif_transpose(im).convert(mode)
                    w, h = im.size
                    halves = [im.crop((0, 0, w // 2, h)), im.crop((w // 2, 0, 2 * (w // 2), h))]
                    pairs.append(tuple(np.asarray(half.resize((r, r), Image.Resampling.BICUBIC)) for half in halves))
    except _Unreadable as exc:
        raise DatasetError(f"paired_folder dataset: cannot read an image: {exc}") from None
    if len(pairs) < 2:
        raise DatasetError(f"paired_folder dataset: found {len(pairs)} pair(s) under {a_root}; at least 2 are needed",
                           option="path")
    to_tensor = lambda arrays: torch.from_numpy(np.stack([a.reshape(r, r, -1) for a in arrays])).permute(
        0, 3, 1, 2).float() / 127.5 - 1
    cond, target = to_tensor([p[0] for p in pairs]), to_tensor([p[1] for p in pairs])
    return Paired(target, cond) if direction == "BtoA" else Paired(cond, target)


class _Unreadable(Exception):
    """An image Pillow cannot read; ``str()`` is the reason."""


def _positive_int(value, dataset: str, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DatasetError(f"{dataset} dataset: option {option} must be a positive integer, got {value!r}", option=option)
    return value


@hookimpl
def register_datasets(register):
    register(Dataset("paired_folder", load_paired_folder,
                     options={"path": REQUIRED, "target": None, "direction": "AtoB"}, channels=3,
                     description="image pairs for translate studies: matching names in path and target, or "
                                 "side-by-side AB images under path"))
    register(Dataset("digits", load_digits, channels=1, classes=tuple("0123456789"), count=lambda request: 1797,
                     description="scikit-learn's 1,797 8×8 handwritten digits (bundled, no download)"))
    register(Dataset("shapes", load_shapes, options={"count": 4096}, channels=3, classes=tuple(SHAPES),
                     count=lambda request: _positive_int(request.options.get("count", 4096), "shapes", "count"),
                     description="procedural filled shapes of ten kinds (some chiral), seeded"))
    register(Dataset("folder", load_folder, options={"path": REQUIRED, "limit": None, "on_error": "skip"}, channels=3,
                     count=count_folder,
                     description="PNG/JPEG images under a folder, short-side resized and centre-cropped"))
