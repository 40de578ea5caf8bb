"""Shared test setup."""

import copy
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gansearch._cache import CACHE_ENV
from gansearch.cli import cli
from gansearch.plugins import AUTOLOAD_ENV

QUICKSTART = Path(__file__).parents[1] / "studies" / "quickstart.yaml"


@pytest.fixture(autouse=True)
def _no_installed_plugins(monkeypatch):
    """Installed entry-point plugins must never leak into a test."""
    monkeypatch.setenv(AUTOLOAD_ENV, "1")


@pytest.fixture(scope="session", autouse=True)
def _extractor_cache(tmp_path_factory):
    """Trained extractors (the digits classifier) are cached once for the whole session, never in ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("extractor-cache")))
    yield
    mp.undo()


# A small valid study: built-in blocks and the bundled digits, nothing to download.
VALID_STUDY = {
    "name": "t",
    "data": {"name": "digits", "resolution": 16},
    "generator": {"blocks": ["deconv", "upsample_conv"]},
    "discriminator": {"blocks": ["conv"]},
}
DELETE = object()  # as a value in write_study's changes: remove that key


def with_changes(changes=None) -> dict:
    """VALID_STUDY with ``{"dotted.key": value}`` changes applied (``DELETE`` removes the key)."""
    study = copy.deepcopy(VALID_STUDY)
    for dotted, value in (changes or {}).items():
        *parents, last = dotted.split(".")
        node = study
        for p in parents:
            node = node.setdefault(p, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return study


@pytest.fixture
def write_study(tmp_path):
    """``write_study(changes=None, text=None, name="study.yaml")`` -> path of a study file in tmp_path."""

    def write(changes=None, *, text=None, name="study.yaml"):
        path = tmp_path / name
        path.write_text(text if text is not None else yaml.safe_dump(with_changes(changes), sort_keys=False))
        return path

    return write


TINY_STUDY = """\
name: tiny
seed: 0
n_trials: {n_trials}
pruner: none
baseline: {baseline}
workers: {workers}
plugins: {plugins}
data: {{name: digits, resolution: 8}}
generator: {{blocks: [{g_blocks}], kernels: [3, 4], strides: [1, 2], depth: {{low: 1, high: 2}}, widths: [8, 16]}}
discriminator: {{blocks: [conv], kernels: [3], strides: [2], depth: 1, widths: [8]}}
train: {{steps: {steps}, eval_every: 10, batch_size: 32, lr_g: {lr_g}}}
score: {{samples: 256, metrics: {metrics}}}
"""


def tiny_study_text(n_trials=3, plugins="[]", g_blocks="deconv, upsample_conv", workers=1, metrics="[fd]",
                    baseline="none", steps=20, lr_g="[2.0e-4, 5.0e-4]") -> str:
    """``TINY_STUDY`` filled in: every field has a default here, so the GPU suite's copy cannot fall behind."""
    return TINY_STUDY.format(n_trials=n_trials, plugins=plugins, g_blocks=g_blocks, workers=workers,
                             metrics=metrics, baseline=baseline, steps=steps, lr_g=lr_g)


@pytest.fixture
def tiny_study(tmp_path):
    """Write a study that trains in well under a second per trial (scored on fd alone, no baseline trial,
    unless ``metrics`` and ``baseline`` say otherwise); returns its path."""

    def write(name="study.yaml", **fields):
        path = tmp_path / name
        path.write_text(tiny_study_text(**fields))
        return path

    return write


@pytest.fixture(scope="session")
def _finished_study_once(tmp_path_factory):
    """The tiny study (2 complete trials, deconv generators), run once for the whole session."""
    folder = tmp_path_factory.mktemp("finished")
    (folder / "study.yaml").write_text(tiny_study_text(n_trials=2, g_blocks="deconv"))
    from gansearch.run import run_study

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(AUTOLOAD_ENV, "1")
        run_study(folder / "study.yaml", progress=False)
    return folder


@pytest.fixture(scope="session")
def _finished_translate_once(tmp_path_factory):
    """A tiny translate study (blurred digits -> digits, 2 complete trials), run once for the session."""
    folder = tmp_path_factory.mktemp("finished-translate")
    text = tiny_study_text(n_trials=2, g_blocks="deconv, upsample_conv, conv", steps=10, lr_g="2.0e-4")
    text = text.replace("generator: {blocks:", "task: translate\ntranslate: {condition: blur, sigma: 1.0, "
                        "skips: [true]}\ngenerator: {blocks:").replace("metrics: [fd]", "objective: l1")
    (folder / "study.yaml").write_text(text)
    from gansearch.run import run_study

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(AUTOLOAD_ENV, "1")
        run_study(folder / "study.yaml", progress=False)
    return folder


@pytest.fixture
def finished_translate(_finished_translate_once, tmp_path):
    """A small finished translate study of this test's own (a copy): the path of its study file."""
    shutil.copytree(_finished_translate_once, tmp_path / "finished-translate")
    return tmp_path / "finished-translate" / "study.yaml"


@pytest.fixture
def finished_study(_finished_study_once, tmp_path):
    """A small finished study of this test's own (a copy it may damage): the path of its study file, whose
    results are in runs/tiny/ beside it."""
    shutil.copytree(_finished_study_once, tmp_path / "finished")
    return tmp_path / "finished" / "study.yaml"


@pytest.fixture(scope="session")
def quickstart(tmp_path_factory):
    """studies/quickstart.yaml, unchanged, run through the CLI in a scratch folder."""
    folder = tmp_path_factory.mktemp("quickstart")
    path = folder / "quickstart.yaml"
    shutil.copy(QUICKSTART, path)
    mp = pytest.MonkeyPatch()
    mp.setenv("GANSEARCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = CliRunner().invoke(cli, ["run", str(path)])
    mp.undo()
    assert result.exit_code == 0, result.output
    return path, result


@pytest.fixture
def interrupt_trial(monkeypatch):
    """``interrupt_trial(n)``: the n-th trial this process trains is hit by Ctrl-C (KeyboardInterrupt) at its
    first training step after setup."""
    from gansearch.run import _objective as objective

    real = objective.Training

    def arm(n):
        calls = {"n": 0}

        class HitByCtrlC(real):
            def setup(self):
                calls["n"] += 1
                self.hit = calls["n"] == n
                super().setup()

            def step(self):
                if self.hit:
                    raise KeyboardInterrupt
                super().step()

        monkeypatch.setattr(objective, "Training", HitByCtrlC)
        return lambda: monkeypatch.setattr(objective, "Training", real)  # disarm

    return arm
