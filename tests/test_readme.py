"""The README is the front door: its commands, schema and examples must work as written."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import gansearch
from gansearch.plugins import _hookspecs as hookspecs
from gansearch.config import config_from_dict
from gansearch.study import prepare
from gansearch.run import run_study

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)


def block_named(first_line: str) -> str:
    return next(body for _, body in BLOCKS if body.startswith(first_line))


def test_readme_starts_with_the_setup_run_and_test_commands():
    lang, first = BLOCKS[0]
    assert README.index("```bash") < README.index("\n## ")
    assert first.splitlines() == ['pip install -e ".[dev]" && gansearch run studies/quickstart.yaml',
                                  "python -m pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "torch==2.13.0" in ci and 'pip install -e ".[dev]"' in ci and "python -m pytest" in ci


def test_schema_block_is_a_valid_study_file():
    schema = next(body for lang, body in BLOCKS if lang == "yaml" and body.startswith("name: quickstart"))
    config = config_from_dict(yaml.safe_load(schema), file="README.md")
    assert config.generator.block_options == {}


def test_every_hook_is_documented():
    hooks = [name for name in dir(hookspecs) if name.startswith("register_")]
    assert hooks and all(f"{name}(register)" in README for name in hooks)


@pytest.mark.slow
def test_plugin_how_to_works_as_written(tmp_path, monkeypatch):
    for name in ("my_blocks.py", "my_study.yaml", "test_my_blocks.py"):
        (tmp_path / name).write_text(block_named(f"# {name}"))
    prepared = prepare(tmp_path / "my_study.yaml")
    assert prepared.registry.blocks["sep_conv"].plugin == "my_blocks.py"
    study = run_study(tmp_path / "my_study.yaml", progress=False)
    used = {layer["block"] for t in study.get_trials() for layer in t.user_attrs["arch"]["discriminator"]["layers"]}
    assert "sep_conv" in used and len(study.get_trials()) == 4
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_blocks.py"],
                            cwd=tmp_path, capture_output=True, text=True, env={**__import__("os").environ,
                                                                               "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed" in result.stdout


@pytest.mark.slow
def test_analysis_snippet_runs_on_a_real_study(quickstart, capsys):
    path, _ = quickstart
    snippet = next(body for lang, body in BLOCKS if lang == "python" and "trials_dataframe" in body)
    namespace = {}
    exec(snippet.replace('"studies/quickstart.yaml"', repr(str(path))), namespace)  # noqa: S102
    assert tuple(namespace["images"].shape) == (16, 1, 16, 16)
    assert "g.0.block" in capsys.readouterr().out


@pytest.mark.slow
def test_evaluate_snippet_runs_on_a_real_study(quickstart, capsys):
    path, _ = quickstart
    snippet = next(body for lang, body in BLOCKS if lang == "python" and "gansearch.evaluate(" in body)
    namespace = {}
    exec(snippet.replace('"studies/quickstart.yaml"', repr(str(path))), namespace)  # noqa: S102
    assert {"fd", "fd_se", "kid", "precision", "recall", "coverage", "fd@classifier"} <= set(namespace["metrics"])
    assert "classes covered" in capsys.readouterr().out


def test_metric_plugin_how_to_works_as_written(tiny_study, tmp_path):
    (tmp_path / "my_metrics.py").write_text(block_named("# my_metrics.py"))
    path = tiny_study(n_trials=1, plugins="[my_metrics.py]", metrics="auto")
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert df.loc[0, "mean_gap"] > 0 and df.loc[0, "mean_gap_se"] >= 0
