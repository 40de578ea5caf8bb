"""The built-in datasets: digits, shapes and folder."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from gansearch.builtin.datasets import register_datasets
from gansearch.errors import DatasetError, GansearchWarning
from gansearch.plugins import REQUIRED, DataRequest


@pytest.fixture(scope="module")
def datasets():
    found = []
    register_datasets(found.append)
    return {d.name: d for d in found}


def load(datasets, name, resolution=16, channels=3, seed=0, base_dir=".", **options):
    """The images a dataset loads (without the labels of a labelled one)."""
    return load_labelled(datasets, name, resolution, channels, seed, base_dir, **options)[0]


def load_labelled(datasets, name, resolution=16, channels=3, seed=0, base_dir=".", **options):
    loaded = datasets[name].load(DataRequest(resolution=resolution, channels=channels, seed=seed,
                                             options=options, base_dir=base_dir))
    return loaded if isinstance(loaded, tuple) else (loaded, None)


def solid(size, colour, mode="RGB"):
    return Image.new(mode, size, colour)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """Three images of different sizes and formats, one nested, plus files that must be skipped."""
    root = tmp_path_factory.mktemp("base")
    d = root / "imgs"
    (d / "sub").mkdir(parents=True)
    solid((40, 30), (255, 0, 0)).save(d / "a.png")
    solid((30, 50), (0, 255, 0)).save(d / "b.JPG", quality=95)
    solid((64, 64), 128, "L").save(d / "sub" / "c.jpeg", quality=95)
    solid((8, 8), (0, 0, 255)).save(d / "ignored.gif")
    (d / "notes.txt").write_text("not an image")
    return root


@pytest.mark.parametrize("resolution", [8, 16, 32])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", ["digits", "shapes", "folder"])
def test_shape_dtype_range(datasets, image_dir, name, resolution, channels):
    options = {"count": 64} if name == "shapes" else {"path": "imgs"} if name == "folder" else {}
    x = load(datasets, name, resolution, channels, base_dir=image_dir, **options)
    assert x.shape[1:] == (channels, resolution, resolution)
    assert x.dtype == torch.float32 and x.is_contiguous()
    assert torch.isfinite(x).all() and x.min() >= -1 and x.max() <= 1


def test_registered_metadata(datasets):
    assert set(datasets) == {"digits", "shapes", "folder", "paired_folder"}
    assert datasets["digits"].channels == 1 and dict(datasets["digits"].options) == {}
    assert datasets["shapes"].channels == 3 and dict(datasets["shapes"].options) == {"count": 4096}
    assert datasets["folder"].channels == 3
    assert dict(datasets["folder"].options) == {"path": REQUIRED, "limit": None, "on_error": "skip"}
    assert dict(datasets["paired_folder"].options) == {"path": REQUIRED, "target": None, "direction": "AtoB"}


def test_digits_all_images_not_constant(datasets):
    x = load(datasets, "digits", 8, 1)
    assert x.shape == (1797, 1, 8, 8)
    assert x.min() == -1 and x.max() == 1 and x.std() > 0.3
    assert (x.flatten(1).std(1) > 0.1).all()  # every digit has ink on a background


def test_digits_rgb_repeats_gray(datasets):
    x = load(datasets, "digits", 16, 3)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    assert torch.equal(x[:, :1], load(datasets, "digits", 16, 1))


def test_shapes_seeded_and_count(datasets):
    a = load(datasets, "shapes", 32, seed=1, count=100)
    assert a.shape[0] == 100
    assert torch.equal(a, load(datasets, "shapes", 32, seed=1, count=100))
    assert not torch.equal(a, load(datasets, "shapes", 32, seed=2, count=100))


def test_shapes_default_count(datasets):
    assert load(datasets, "shapes", 8).shape == (4096, 3, 8, 8)


@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_every_image_shows_a_shape(datasets, channels):
    x = load(datasets, "shapes", 16, channels, count=500).flatten(1)
    spread = x.max(1).values - x.min(1).values
    assert (spread > 0.15).all()  # a shape that differs from its background, in gray too


@pytest.mark.parametrize("name", ["digits", "shapes"])
def test_labelled_datasets_return_one_label_per_image_for_every_class(datasets, name):
    x, labels = load_labelled(datasets, name, 16, count=2000)
    assert labels.dtype == torch.int64 and labels.shape == (len(x),)
    assert set(labels.tolist()) == set(range(len(datasets[name].classes))) and len(datasets[name].classes) == 10


def test_shapes_flip_and_rotation_change_the_chiral_classes(datasets):
    from gansearch.builtin.datasets import SHAPES

    # one centred shape per class, drawn by the same tests the dataset uses
    t = (torch.arange(32, dtype=torch.float32) + 0.5) / 32 - 0.5
    dx, dy = t[None, :].numpy(), t[:, None].numpy()
    masks = {name: torch.from_numpy(test(dx, dy, 0.35)) for name, test in SHAPES.items()}
    mirrored = {n for n, m in masks.items() if not torch.equal(m, m.flip(-1))}
    rotated = {n for n, m in masks.items() if not torch.equal(m, m.flip(-1, -2))}
    assert mirrored == {"right_triangle", "ell", "arrow", "quarter_disc"}
    assert rotated == mirrored | {"triangle", "half_disc"}


def test_shapes_rejects_bad_count(datasets):
    with pytest.raises(DatasetError, match="count"):
        load(datasets, "shapes", count=0)


def test_folder_reads_sorted_recursive(datasets, image_dir):
    x = load(datasets, "folder", 16, 3, base_dir=image_dir, path="imgs")
    assert x.shape == (3, 3, 16, 16)  # a.png, b.JPG, sub/c.jpeg; .gif and .txt skipped
    means = x.mean((2, 3))
    assert torch.allclose(means[0], torch.tensor([1.0, -1, -1]), atol=0.05)  # red
    assert torch.allclose(means[1], torch.tensor([-1.0, 1, -1]), atol=0.05)  # green
    assert torch.allclose(means[2], torch.zeros(3), atol=0.05)  # mid gray


def test_folder_grayscale_absolute_path_and_limit(datasets, image_dir):
    x = load(datasets, "folder", 8, 1, path=str(image_dir / "imgs"), limit=2)
    assert x.shape == (2, 1, 8, 8)
    assert x[0].mean().item() == pytest.approx(76 / 127.5 - 1, abs=0.02)  # red's luminance


def test_folder_center_crop(datasets, tmp_path):
    # 3:1 image: blue | white | blue. Resizing the short side to 16 and keeping the centre
    # 16 × 16 keeps only the white third.
    img = np.zeros((20, 60, 3), dtype=np.uint8)
    img[..., 2] = 255
    img[:, 20:40] = 255
    (tmp_path / "wide").mkdir()
    Image.fromarray(img).save(tmp_path / "wide" / "w.png")
    x = load(datasets, "folder", 16, 3, base_dir=tmp_path, path="wide")
    assert x.shape == (1, 3, 16, 16)
    assert (x[..., 2:-2] > 0.9).all()
    assert x.mean() > 0.8


def error(datasets, **request):
    with pytest.raises(DatasetError) as info:
        load(datasets, "folder", **request)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_folder_missing(datasets, tmp_path):
    assert f"path {tmp_path / 'nope'} does not exist" in error(datasets, base_dir=tmp_path, path="nope")


def test_folder_not_a_directory(datasets, tmp_path):
    (tmp_path / "file.png").write_bytes(b"")
    assert f"{tmp_path / 'file.png'} is not a directory" in error(datasets, base_dir=tmp_path, path="file.png")


def test_folder_without_images(datasets, tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    assert f"no PNG/JPEG files found in {tmp_path}" in error(datasets, path=str(tmp_path))


@pytest.mark.parametrize("content", [b"not an image", None], ids=["garbage", "truncated"])
def test_folder_corrupt_image(datasets, tmp_path, content):
    bad = tmp_path / "bad.jpg"
    if content is None:
        solid((64, 64), (10, 200, 30)).save(bad)
        content = bad.read_bytes()[:200]
    bad.write_bytes(content)
    solid((8, 8), (0, 0, 0)).save(tmp_path / "a_good.png")
    assert f"cannot read image {bad}" in error(datasets, path=str(tmp_path), on_error="fail")


def test_folder_path_required(datasets, tmp_path):
    assert "path" in error(datasets, base_dir=tmp_path, path=REQUIRED)


def test_folder_skips_hidden_files_and_folders(datasets, tmp_path):
    (tmp_path / ".thumbnails").mkdir()
    solid((8, 8), (255, 0, 0)).save(tmp_path / "a.png")
    solid((8, 8), (0, 255, 0)).save(tmp_path / "b.png")
    (tmp_path / "._a.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # what macOS leaves on other disks
    (tmp_path / ".hidden.png").write_bytes(b"not an image")
    solid((8, 8), (0, 0, 255)).save(tmp_path / ".thumbnails" / "c.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing skipped, nothing to warn about
        x = load(datasets, "folder", 8, 3, path=str(tmp_path))
    assert x.shape == (2, 3, 8, 8)


@pytest.fixture
def with_corrupt(tmp_path):
    """Four good RGB images and two that are not images; returns the folder and the first bad file."""
    for i in range(4):
        solid((8, 8), (10 * i, 200, 30)).save(tmp_path / f"good{i}.png")
    (tmp_path / "bad0.png").write_bytes(b"not an image")
    (tmp_path / "bad1.jpg").write_bytes(b"nor this")
    return tmp_path, tmp_path / "bad0.png"


def test_folder_skips_unreadable_images_with_one_warning(datasets, with_corrupt):
    folder, first = with_corrupt
    with pytest.warns(GansearchWarning) as record:
        x = load(datasets, "folder", 8, 3, path=str(folder))
    assert x.shape == (4, 3, 8, 8)
    assert [str(w.message) for w in record] == [
        f"folder dataset: skipped 2 unreadable images of 6 under {folder} "
        f"(first: {first}: cannot identify image file); set data.on_error: fail to stop instead"]


def test_folder_on_error_fail_stops_at_the_first_unreadable_image(datasets, with_corrupt):
    folder, first = with_corrupt
    message = error(datasets, path=str(folder), on_error="fail")
    assert message == f"folder dataset: cannot read image {first}: cannot identify image file"


def test_folder_bad_on_error_value(datasets, with_corrupt):
    with pytest.raises(DatasetError) as info:
        load(datasets, "folder", path=str(with_corrupt[0]), on_error="ignore")
    assert str(info.value) == "folder dataset: option on_error must be one of skip, fail, got 'ignore'"
    assert info.value.option == "on_error"


def test_folder_where_no_image_can_be_read_is_an_error(datasets, tmp_path):
    (tmp_path / "a.png").write_bytes(b"not an image")
    (tmp_path / "b.png").write_bytes(b"nor this")
    message = error(datasets, path=str(tmp_path))
    assert message == (f"folder dataset: none of the 2 images under {tmp_path} could be read "
                       f"(first: {tmp_path / 'a.png'}: cannot identify image file)")


def test_folder_of_grayscale_images_read_as_rgb_warns_once(datasets, tmp_path):
    for i in range(3):
        solid((8, 8), 40 * i, "L").save(tmp_path / f"g{i}.png")
    with pytest.warns(GansearchWarning) as record:
        load(datasets, "folder", 8, 3, path=str(tmp_path))
    assert [str(w.message) for w in record] == [
        f"folder dataset: 3 of 3 images under {tmp_path} are grayscale, read as 3 equal channels; "
        "set data.channels: 1 to train on one channel"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(datasets, "folder", 8, 1, path=str(tmp_path))  # asked for one channel: nothing to say


def test_folder_decompression_bomb_is_skipped_not_printed_by_pillow(datasets, tmp_path, monkeypatch):
    solid((8, 8), (255, 0, 0)).save(tmp_path / "a.png")
    solid((8, 8), (0, 255, 0)).save(tmp_path / "b.png")
    solid((100, 100), (0, 0, 255)).save(tmp_path / "big.png")  # 10,000 pixels: over the warning limit only
    solid((200, 200), (0, 0, 255)).save(tmp_path / "huge.png")  # 40,000: over twice the limit, an error
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6000)
    with pytest.warns(GansearchWarning) as record:
        x = load(datasets, "folder", 8, 3, path=str(tmp_path))
    assert x.shape == (2, 3, 8, 8)
    assert len(record) == 1  # no raw DecompressionBombWarning from Pillow
    message = str(record[0].message)
    assert message.startswith(f"folder dataset: skipped 2 unreadable images of 4 under {tmp_path} "
                              f"(first: {tmp_path / 'big.png'}: decompression bomb")
