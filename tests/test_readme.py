"""The README is the front door and docs/ the rest of the house: their commands, schema and examples must
work as written, their links resolve, and every number they state says what it was measured on and when."""

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import gansearch
from gansearch.config import StudyConfig, config_from_dict
from gansearch.plugins import _hookspecs as hookspecs
from gansearch.plugins import get_plugin_manager, load_registry
from gansearch.run import run_study
from gansearch.study import prepare

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
PAGES = {path.relative_to(ROOT).as_posix(): path.read_text() for path in [ROOT / "README.md",
                                                                            *sorted((ROOT / "docs").glob("*.md"))]}
BLOCKS = [(page, lang, body) for page, text in PAGES.items()
          for lang, body in re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S)]


def block_named(first_line: str) -> str:
    return next(body for _, _, body in BLOCKS if body.startswith(first_line))


def python_blocks(page: str) -> list[str]:
    return [body for p, lang, body in BLOCKS if p == page and lang == "python"]


def test_readme_starts_with_the_setup_run_and_test_commands():
    _, lang, first = BLOCKS[0]
    assert lang == "bash" and README.index("```bash") < README.index("\n## ")
    comment, setup, tests = first.splitlines()
    assert comment.startswith("# no GPU? first: pip install torch")  # before the command that needs it
    assert (setup, tests) == ('pip install -e ".[dev]" && gansearch run studies/quickstart.yaml', "python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "torch==2.13.0" in ci and 'pip install -e ".[dev]"' in ci and "python -m pytest" in ci


def test_the_readme_fits_a_few_screens_and_every_link_of_every_page_resolves():
    assert len(README.splitlines()) < 200
    for page, text in PAGES.items():
        base = (ROOT / page).parent
        targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) + re.findall(r'<img src="([^"]+)"', text)
        for target in targets:
            if not target.startswith(("http://", "https://")):
                assert (base / target).exists(), f"{page}: broken link {target}"
    linked = set(re.findall(r"\]\((docs/[^)#]+)\)", README))
    assert linked == {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}, "every docs page is linked"


def test_every_study_file_in_studies_is_listed_and_prepares():
    for path in sorted((ROOT / "studies").glob("*.yaml")):
        assert path.stem in README, f"README's layout does not list studies/{path.name}"


def test_every_number_the_docs_state_as_measured_says_on_what_and_when():
    date = re.compile(r"20\d\d-\d\d-\d\d")
    hardware = re.compile(r"CPU|core|H100|H200|GPU", re.I)
    for page, text in PAGES.items():
        for paragraph in re.split(r"\n\s*\n", text):
            if re.search(r"\bmeasured\b", paragraph, re.I) and re.search(r"\d", paragraph) \
                    and not paragraph.lstrip().startswith(("```", "|", "#")):
                where = paragraph[:120].replace("\n", " ")
                assert date.search(paragraph) and hardware.search(paragraph), f"{page}: '{where}...'"


def test_the_study_file_reference_is_a_valid_study_and_names_every_key_of_the_schema():
    text = PAGES["docs/study-file.md"]
    schema = next(body for p, lang, body in BLOCKS if p == "docs/study-file.md" and lang == "yaml"
                  and body.startswith("name: quickstart"))
    config = config_from_dict(yaml.safe_load(schema), file="docs/study-file.md")
    assert config.generator.block_options == {}
    for f in dataclasses.fields(StudyConfig):
        if not f.name.startswith("_") and f.name not in ("file", "base_dir"):
            assert re.search(rf"(?m)^\s*{f.name}:", text), f"docs/study-file.md does not document {f.name}"


def test_every_hook_is_documented():
    hooks = [name for name in dir(hookspecs) if name.startswith("register_")]
    assert hooks and all(f"{name}(register)" in PAGES["docs/plugins.md"] for name in hooks)


def test_the_readme_s_block_plugin_works_as_written(tmp_path):
    (tmp_path / "my_upsample.py").write_text(block_named("# my_upsample.py"))
    registry = load_registry([str(tmp_path / "my_upsample.py")], entry_points=False)
    assert registry.blocks["nearest_conv"].plugin.endswith("my_upsample.py")
    import torch

    from gansearch.nets import LayerSpec, build_layer

    layer = build_layer(registry, LayerSpec("nearest_conv", 3, 2, 8, "batch", "relu"), 4, 8, "generator")
    assert layer(torch.randn(2, 4, 8, 8)).shape == (2, 8, 16, 16)
    assert get_plugin_manager([str(tmp_path / "my_upsample.py")], entry_points=False)


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
                            cwd=tmp_path, capture_output=True, text=True, env={**os.environ,
                                                                               "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed" in result.stdout


@pytest.fixture(scope="module")
def pareto_study(tmp_path_factory):
    """A small finished multi-objective study (score against g_macs), for the Pareto question."""
    from conftest import tiny_study_text

    path = tmp_path_factory.mktemp("pareto") / "study.yaml"
    path.write_text(tiny_study_text(n_trials=6) + "objectives: [score, g_macs]\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANSEARCH_DISABLE_PLUGIN_AUTOLOAD", "1")
        run_study(path, progress=False)
    return path


@pytest.mark.slow
def test_the_analysing_trials_page_runs_as_written_on_finished_studies(quickstart, pareto_study, capsys):
    path, _ = quickstart
    namespace = {}
    for block in python_blocks("docs/analysing-trials.md"):  # one namespace, as in a notebook
        code = block.replace('"studies/quickstart.yaml"', repr(str(path)))
        exec(code.replace('"studies/shapes32_pareto.yaml"', repr(str(pareto_study))), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert tuple(namespace["images"].shape) == (16, 1, 16, 16)
    assert {"deconv", "upsample_conv"} & set(namespace["upsampling"]["block"]) and "median" in out
    assert len(namespace["front"]) >= 1 and "macs_per_unit_score" in out


@pytest.mark.slow
def test_evaluate_snippet_runs_on_a_real_study(quickstart, capsys):
    path, _ = quickstart
    snippet = next(body for _, lang, body in BLOCKS if lang == "python" and "gansearch.evaluate(" in body)
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


def test_the_limits_the_docs_and_example_studies_state_are_the_code_s():
    from gansearch.config import MAX_FILE_BYTES, MAX_LIST, MIN_SAMPLES

    texts = {**PAGES, **{p.relative_to(ROOT).as_posix(): p.read_text() for p in (ROOT / "studies").glob("*.yaml")}}
    stated = [(page, int(n)) for page, text in texts.items() for n in re.findall(r"samples:.*?>=\s*(\d+)", text)]
    assert stated and all(n == MIN_SAMPLES for _, n in stated), stated
    for page, text in texts.items():
        for n in re.findall(r"lists? (?:of|with) at most (\d+)", text):
            assert int(n) == MAX_LIST, page
        for n in re.findall(r"(\d+) KiB", text):
            assert int(n) * 1024 == MAX_FILE_BYTES, page
