"""``gansearch export``: take a trial's generator out of gansearch.

- ``pytorch``: ``generator.py``, one self-contained file of plain ``torch.nn`` code (the generator's
  forward pass as torch.fx traces it, its layers as ``nn.Conv2d(...)``-style constructors), plus its
  weights as ``generator.safetensors``. Nothing in it imports gansearch.
- ``torchscript``: ``generator.ts``, a traced TorchScript module (``torch.jit.load``).
- ``onnx``: ``generator.onnx`` (needs the ``onnx`` extra: ``pip install "gansearch[onnx]"``).

Every export is checked before it is kept: it is loaded back, without gansearch, and must produce the
trial's images for the same input to within ``TOLERANCE``. Beside the model files it writes ``model.json``
(what goes in and comes out: shapes, ranges, the latent size; the study, trial and score) and ``README.md``
(how to load and call it), and for a translator ``condition.py``: the study's exact condition recipe, in
plain torch, so that a user makes inputs the way the trial was trained and scored.
"""

import contextlib
import io
import json
import keyword
import logging
import warnings
from pathlib import Path

import torch
import torch.fx
import torch.nn as nn

from gansearch.errors import GansearchError
from gansearch.nets._costs import generator_input
from gansearch.nets._spec import ArchSpec

FORMATS = ("pytorch", "torchscript", "onnx")
TOLERANCE = 1e-5


def _leaf_code(name: str, module: nn.Module) -> str:
    """``nn.Conv2d(3, 8, kernel_size=(3, 3), ...)`` for a parameterised torch.nn leaf, from its repr."""
    cls = type(module)
    if not cls.__module__.startswith("torch.nn") or getattr(nn, cls.__name__, None) is not cls:
        raise GansearchError(f"cannot write layer {name!r} ({cls.__module__}.{cls.__name__}) as plain torch.nn "
                             "code; export --format torchscript instead")
    code = "nn." + repr(module)
    rebuilt = eval(code, {"nn": nn, "torch": torch})  # noqa: S307 - our own repr of a torch.nn module
    if {k: v.shape for k, v in rebuilt.state_dict().items()} != {k: v.shape for k, v in module.state_dict().items()}:
        raise GansearchError(f"layer {name!r}: {code} does not rebuild it; export --format torchscript instead")
    return code


def pytorch_source(generator: nn.Module, arch: ArchSpec, title: str) -> str:
    """The generator as one file of plain torch.nn code (see the module docstring)."""
    traced = torch.fx.symbolic_trace(generator)
    lines, made = [], {""}
    for name, module in traced.named_modules():
        if not name:
            continue
        parent, _, child = name.rpartition(".")
        owner = "self" + "".join(f".{p}" if p.isidentifier() and not keyword.iskeyword(p) else f'._modules["{p}"]'
                                 for p in parent.split(".") if p)
        if list(module.children()):
            code = "nn.Module()"
        else:
            code = _leaf_code(name, module)
        lines.append(f'        {owner}.add_module("{child}", {code})')
        made.add(name)
    forward = traced.code.strip().splitlines()
    body = "\n".join("    " + line if line.strip() else "" for line in forward)
    shape = ("noise (N, %d)" % arch.latent_dim if arch.task != "translate" else
             f"conditions (N, {arch.cond_channels}, {arch.resolution}, {arch.resolution}) in [-1, 1]")
    return f'''"""{title}

A generator exported by gansearch as plain PyTorch: it needs torch (and safetensors for the weights),
not gansearch. Input: {shape}; output: images (N, {arch.channels}, {arch.resolution}, {arch.resolution}) in [-1, 1].

    import torch
    from safetensors.torch import load_file
    from generator import Generator

    g = Generator()
    g.load_state_dict(load_file("generator.safetensors"))
    g.eval()
    images = g({"torch.randn(16, %d)" % arch.latent_dim if arch.task != "translate" else "conditions"})
"""

import torch
import torch.nn as nn

LATENT_DIM = {arch.latent_dim}
RESOLUTION = {arch.resolution}
CHANNELS = {arch.channels}
ARCH = {json.dumps(arch.to_dict())!r}  # the trial's architecture, as gansearch recorded it


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
{chr(10).join(lines)}

{body}
'''


def _load_source(path: Path):
    """Import the exported file as a module of its own, with gansearch unimportable."""
    import importlib.util
    import sys

    blocked = {k: sys.modules[k] for k in list(sys.modules) if k == "gansearch" or k.startswith("gansearch.")}
    for k in blocked:
        sys.modules[k] = None  # `import gansearch` inside the file would now fail
    try:
        spec = importlib.util.spec_from_file_location(f"gansearch_export_{abs(hash(str(path))):x}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.modules.update(blocked)


def export_generator(generator: nn.Module, arch: ArchSpec, fmt: str, out: Path, title: str,
                     condition: dict | None = None, recipe: str | None = None, about: dict | None = None) -> list[Path]:
    """Write ``generator`` in ``fmt`` under ``out``, with ``model.json`` and ``README.md``; a translator's
    ``recipe`` (``gansearch.data.condition_source``: how its study made conditions, in plain torch) becomes
    ``condition.py``, ``condition`` its settings. Returns every file written (after checking the model).
    ``about``: what to say of where it came from (study, trial, score)."""
    if fmt not in FORMATS:
        raise GansearchError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in out.iterdir()}
    with _quiet_exporters():
        model = _export_model(generator, arch, fmt, out, title)
    written = sorted({p for p in out.iterdir() if p.name not in before} | set(model))  # the exporter's own too
    extra = [out / "model.json", out / "README.md"]
    if arch.task == "translate" and recipe is not None:
        extra.append(out / "condition.py")
        (out / "condition.py").write_text(recipe)
    description = describe(arch, fmt, [p.name for p in written + extra], condition, about)
    (out / "model.json").write_text(json.dumps(description, indent=1) + "\n")
    (out / "README.md").write_text(readme(description, title))
    return written + extra


@contextlib.contextmanager
def _quiet_exporters():
    """The exporters' notices that say nothing about this model (a missing torchvision's operators, torch's
    own deprecations) stay out of the user's terminal."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*torchvision.*")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _export_model(generator: nn.Module, arch: ArchSpec, fmt: str, out: Path, title: str) -> list[Path]:
    """The model files of ``fmt``, each loaded back and checked."""
    generator = generator.cpu().eval()
    example = generator_input(arch, 4).normal_(generator=torch.Generator().manual_seed(0))
    if arch.task == "translate":
        example = example.clamp(-1, 1)
    with torch.no_grad():
        expected = generator(example)
    if fmt == "pytorch":
        from safetensors.torch import save_file

        source, weights = out / "generator.py", out / "generator.safetensors"
        source.write_text(pytorch_source(generator, arch, title))
        state = {k: v.detach().contiguous() for k, v in torch.fx.symbolic_trace(generator).state_dict().items()}
        save_file(state, str(weights))
        from safetensors.torch import load_file

        g = _load_source(source).Generator()
        g.load_state_dict(load_file(str(weights)))
        with torch.no_grad():
            got = g.eval()(example)
        files = [source, weights]
    elif fmt == "torchscript":
        path = out / "generator.ts"
        with torch.no_grad():
            torch.jit.save(torch.jit.trace(generator, example), str(path))
        with torch.no_grad():
            got = torch.jit.load(str(path))(example)
        files = [path]
    else:
        try:
            import onnxruntime
        except ImportError:
            raise GansearchError('ONNX export needs the onnx extra: pip install "gansearch[onnx]" '
                                 "(onnx, onnxscript and onnxruntime)") from None
        path = out / "generator.onnx"
        torch.onnx.export(generator, (example,), str(path), input_names=["input"], output_names=["images"],
                          dynamic_shapes=({0: torch.export.Dim("batch")},))
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = torch.from_numpy(session.run(None, {"input": example.numpy()})[0])
        files = [path]
    error = float((got - expected).abs().max())
    if not error <= TOLERANCE:
        for f in files:
            f.unlink(missing_ok=True)
        raise GansearchError(f"the {fmt} export differs from the trial's generator by {error:.3g} (> {TOLERANCE})")
    return files


LOADING = {  # how to load each format, without gansearch
    "pytorch": ("from safetensors.torch import load_file\nfrom generator import Generator\n\n"
                "g = Generator()\ng.load_state_dict(load_file(\"generator.safetensors\"))\ng.eval()"),
    "torchscript": "g = torch.jit.load(\"generator.ts\")",
    "onnx": ("import onnxruntime\n\nsession = onnxruntime.InferenceSession(\"generator.onnx\")  # reads generator.onnx.data "
             "too, if written\ng = lambda x: torch.from_numpy(session.run(None, {\"input\": x.numpy()})[0])"),
}


def describe(arch: ArchSpec, fmt: str, files: list[str], condition=None, about: dict | None = None) -> dict:
    """What ``model.json`` says: the files, what goes in and what comes out, where it came from."""
    image = {"shape": ["N", arch.channels, arch.resolution, arch.resolution], "range": [-1, 1]}
    if arch.task == "translate":
        inputs = {"kind": "condition", "shape": ["N", arch.cond_channels, arch.resolution, arch.resolution],
                  "range": [-1, 1], "recipe": "condition.py" if condition is not None else None,
                  "condition": condition}
    else:
        inputs = {"kind": "noise", "shape": ["N", arch.latent_dim], "distribution": "standard normal"}
    return {"format": fmt, "files": files, "task": arch.task, "input": inputs, "output": image,
            "latent_dim": arch.latent_dim if arch.task != "translate" else None, "resolution": arch.resolution,
            "channels": arch.channels, **(about or {})}


def readme(description: dict, title: str) -> str:
    """An export's README.md: what each file is and how to use the model without gansearch."""
    i, o = description["input"], description["output"]
    shape = lambda s: "(" + ", ".join(map(str, s)) + ")"  # noqa: E731
    if i["kind"] == "noise":
        make = f"x = torch.randn(16, {i['shape'][1]})  # noise: standard normal, latent size {i['shape'][1]}"
        what = f"noise {shape(i['shape'])}, standard normal"
    else:
        make = ("from condition import condition\n\n"
                f"pictures = torch.rand(16, {o['shape'][1]}, {o['shape'][2]}, {o['shape'][3]}) * 2 - 1  # yours, in [-1, 1]\n"
                "x = condition(pictures)  # the study's conditions of them")
        what = (f"conditions {shape(i['shape'])} in [-1, 1], made from images exactly as the study made them: "
                f"`condition.py` ({i['condition']['condition']}; plain torch)")
    files = "\n".join(f"- `{name}`" for name in description["files"])
    latent = ", the latent size" if i["kind"] == "noise" else ", how conditions are made"
    origin = ", ".join(f"{k} {description[k]}" for k in ("study", "trial", "score") if description.get(k) is not None)
    return f"""# {title}

A generator exported by gansearch ({description['format']}); it needs torch, not gansearch.
{origin and f"From {origin}." }

Input: {what}. Output: images {shape(o['shape'])} in [-1, 1].

```python
import torch

{LOADING[description['format']]}
{make}
images = g(x)
```

Files:
{files}

`model.json` says the same for programs: the files, the input's shape and range{latent}.
"""
