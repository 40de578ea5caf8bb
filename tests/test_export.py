"""gansearch export (issue 10): each format loads without gansearch and reproduces the trial's images."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from click.testing import CliRunner

import gansearch
from gansearch.cli import cli
from gansearch.nets import ArchSpec, generator_input
from gansearch.results import best_trial
from gansearch.run import run_study

pytestmark = pytest.mark.slow  # exports through TorchScript and ONNX

LOADERS = {
    "pytorch": """
        from safetensors.torch import load_file
        sys.path.insert(0, out)
        from generator import Generator
        g = Generator(); g.load_state_dict(load_file(out + "/generator.safetensors")); g.eval()
        y = g(x)""",
    "torchscript": """
        y = torch.jit.load(out + "/generator.ts")(x)""",
    "onnx": """
        import onnxruntime
        s = onnxruntime.InferenceSession(out + "/generator.onnx", providers=["CPUExecutionProvider"])
        y = torch.from_numpy(s.run(None, {"input": x.numpy()})[0])""",
}


def load_without_gansearch(fmt, out, x_path, y_path):
    script = textwrap.dedent(f"""
        import sys
        sys.modules["gansearch"] = None  # importing gansearch fails from here on
        import torch
        out = {str(out)!r}
        x = torch.load({str(x_path)!r})
        with torch.no_grad():
    """) + textwrap.indent(textwrap.dedent(LOADERS[fmt]), "    ") + f"\ntorch.save(y, {str(y_path)!r})\n"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=out.parent)


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    from conftest import tiny_study_text

    made = {}
    for task in ("generate", "translate"):
        folder = tmp_path_factory.mktemp(task)
        text = tiny_study_text(n_trials=2, g_blocks="deconv, upsample_conv, conv", steps=10, lr_g="2.0e-4")
        if task == "translate":
            text = text.replace("generator: {blocks:", "task: translate\ntranslate: {condition: blur, sigma: 1.0, "
                                "skips: [true]}\ngenerator: {blocks:").replace("metrics: [fd]", "objective: l1")
        path = folder / "study.yaml"
        path.write_text(text)
        run_study(path, progress=False)
        made[task] = path
    return made


@pytest.mark.parametrize("fmt", ["pytorch", "torchscript", "onnx"])
@pytest.mark.parametrize("task", ["generate", "translate"])
def test_an_export_loads_without_gansearch_and_makes_the_trials_images(studies, fmt, task, tmp_path):
    path = studies[task]
    out = tmp_path / "export"
    result = CliRunner().invoke(cli, ["export", str(path), "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    best = best_trial(path)
    arch = ArchSpec.from_dict(best.user_attrs["arch"])
    x = generator_input(arch, 5).normal_(generator=torch.Generator().manual_seed(1)).clamp(-1, 1)
    torch.save(x, tmp_path / "x.pt")
    proc = load_without_gansearch(fmt, out, tmp_path / "x.pt", tmp_path / "y.pt")
    assert proc.returncode == 0, proc.stderr
    with torch.no_grad():
        expected = gansearch.load_generator(path, best.number)(x)
    assert torch.allclose(torch.load(tmp_path / "y.pt"), expected, atol=1e-5, rtol=0)


def test_the_pytorch_export_is_plain_torch_nn_code(studies, tmp_path):
    CliRunner().invoke(cli, ["export", str(studies["translate"]), "-o", str(tmp_path)])
    source = (tmp_path / "generator.py").read_text()
    assert "import gansearch" not in source and "from gansearch" not in source
    assert "def forward(self, cond)" in source and "nn.Conv2d(" in source or "nn.ConvTranspose2d(" in source
    g = gansearch.load_generator(studies["translate"])
    assert ("torch.cat" in source) == any(g.pop)  # a U-Net skip is a concatenation in the code too


@pytest.mark.parametrize("fmt", ["pytorch", "onnx"])
def test_an_export_lists_every_file_it_wrote_and_explains_itself_quietly(studies, fmt, tmp_path):
    out = tmp_path / "export"
    result = CliRunner().invoke(cli, ["export", str(studies["generate"]), "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    listed = {line.removeprefix("wrote ") for line in result.output.splitlines() if line.startswith("wrote ")}
    assert listed == {str(p) for p in out.iterdir()}, "every file written is listed (ONNX's .data file too)"
    assert "torchvision" not in result.output and "Warning" not in result.output
    model = json.loads((out / "model.json").read_text())
    g = gansearch.load_generator(studies["generate"])
    assert model["input"] == {"kind": "noise", "shape": ["N", g.latent_dim], "distribution": "standard normal"}
    assert model["output"]["range"] == [-1, 1] and model["latent_dim"] == g.latent_dim
    assert set(model["files"]) == {p.name for p in out.iterdir()}, "model.json lists every file of the export"
    readme = (out / "README.md").read_text()
    assert f"torch.randn(16, {g.latent_dim})" in readme and all(f in readme for f in model["files"])


def test_a_translator_export_says_how_to_make_its_input_and_reproduces_the_held_out_score(studies, tmp_path):
    path, out = studies["translate"], tmp_path / "export"
    result = CliRunner().invoke(cli, ["export", str(path), "--format", "pytorch", "-o", str(out)])
    assert result.exit_code == 0, result.output
    model = json.loads((out / "model.json").read_text())
    assert model["input"]["recipe"] == "condition.py" and model["input"]["condition"]["condition"] == "blur"
    readme = (out / "README.md").read_text()
    assert set(model["files"]) == {p.name for p in out.iterdir()} and "condition.py" in model["files"]
    snippet = readme.split("```python\n")[1].split("```")[0]  # the README's example runs as written
    proc = subprocess.run([sys.executable, "-c", "import sys\nsys.modules['gansearch'] = None\n" + snippet
                           + "\nassert images.shape[0] == 16"], capture_output=True, text=True, cwd=out)
    assert proc.returncode == 0, proc.stderr
    from gansearch.study import prepare

    _, targets = prepare(path).pairs.held_out_pairs()  # a user's own images: here the held-out targets
    torch.save(targets, tmp_path / "images.pt")
    script = textwrap.dedent(f"""
        import sys
        sys.modules["gansearch"] = None  # as a user without gansearch
        sys.path.insert(0, {str(out)!r})
        import torch
        from safetensors.torch import load_file
        from condition import condition
        from generator import Generator
        g = Generator(); g.load_state_dict(load_file({str(out / "generator.safetensors")!r})); g.eval()
        with torch.no_grad():
            torch.save(g(condition(torch.load({str(tmp_path / "images.pt")!r}))), {str(tmp_path / "out.pt")!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = gansearch.evaluate(path, torch.load(tmp_path / "out.pt"))
    trial = best_trial(path)
    assert abs(metrics["l1"] - trial.user_attrs["score"]) <= trial.user_attrs["score_se"]
