"""The public front (issue 16): what plugin authors and notebook users import from ``gansearch``, each path
exercised on a study folder written by the layout before the reorganisation, and 0.1's import paths, which
keep working for one release with a DeprecationWarning."""

import importlib
import shutil
import warnings
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch

import gansearch
from gansearch import _compat

PREVIOUS = Path(__file__).parent / "data" / "previous-layout"
FRONT = {
    # plugin authors: the hook marker, the contracts and the helpers blocks use, the errors, the test kit
    "hookimpl", "Block", "BlockArgs", "Dataset", "DataRequest", "Paired", "REQUIRED", "Extractor",
    "ExtractorRequest", "Features", "Metric", "Augmentation", "ACTIVATIONS", "NORMS", "exact_conv",
    "make_activation", "make_norm", "testing", "GansearchError", "GansearchWarning", "StudyConfigError",
    "PluginError", "DatasetError", "BlockShapeError", "TrialDiverged", "StudyNotFound", "__version__",
    # notebooks
    "trials_dataframe", "best", "pareto_trials", "evaluate", "load_generator", "open_study", "export_generator",
}


@pytest.fixture
def previous(tmp_path):
    """A copy of a study folder (study file, journal, trials) written by gansearch before the move."""
    shutil.copytree(PREVIOUS, tmp_path / "study")
    return tmp_path / "study" / "study.yaml"


def test_the_front_exports_what_plugin_authors_and_notebooks_need_and_nothing_else():
    assert set(gansearch.__all__) == FRONT
    for name in FRONT:
        assert getattr(gansearch, name) is not None
    assert gansearch.testing.BlockConformance


def test_a_study_folder_written_before_the_move_opens_unchanged_through_every_notebook_path(previous, tmp_path):
    df = gansearch.trials_dataframe(previous)
    assert list(df["state"]) == ["complete"] * 3 and df.loc[0, "baseline"] == "dcgan"
    assert df["score"].notna().all() and Path(df.loc[1, "samples"]).exists()
    best = gansearch.best(previous)
    assert best.number == int(df.sort_values("score").iloc[0]["number"]) and best.baseline["name"] == "dcgan"
    assert best.as_dict()["arch"]["task"] == "generate" and len(best.top) == 3
    assert [t.number for t in gansearch.pareto_trials(previous)] == [best.number]
    study = gansearch.open_study(previous)
    assert isinstance(study, optuna.Study) and len(study.trials) == 3
    g = gansearch.load_generator(previous)
    images = g(torch.randn(256, g.latent_dim)).detach()
    metrics = gansearch.evaluate(previous, images)
    assert {"fd", "fd_se"} <= set(metrics)
    files = gansearch.export_generator(g, gansearch.nets.ArchSpec.from_dict(best.arch), "pytorch",
                                       tmp_path / "export", "previous layout")
    assert all(Path(f).exists() for f in files)


def test_a_study_written_before_the_move_resumes(previous):
    from gansearch.run import run_study

    study = run_study(previous, n_trials=4, progress=False)
    assert len(study.trials) == 4 and study.trials[3].state.name == "COMPLETE"


@pytest.mark.parametrize("old, new", sorted(_compat.MODULES.items()))
def test_a_module_path_of_the_flat_layout_still_imports_with_a_deprecation_warning(old, new):
    with pytest.warns(DeprecationWarning, match=f"{old} moved to"):
        module = importlib.import_module(old) if old not in __import__("sys").modules else importlib.reload(
            importlib.import_module(old))
    moved = importlib.import_module(new)
    public = [n for n in vars(moved) if not n.startswith("_") and not isinstance(getattr(moved, n), type(moved))]
    assert public and all(getattr(module, n) is getattr(moved, n) for n in public)


@pytest.mark.parametrize("name", sorted(_compat.FRONT))
def test_a_name_the_old_front_exported_still_resolves_with_a_deprecation_warning(name):
    vars(gansearch).pop(name, None)
    with pytest.warns(DeprecationWarning, match=f"gansearch.{name} moved to"):
        value = getattr(gansearch, name)
    assert value is getattr(importlib.import_module(_compat.FRONT[name]), name)


@pytest.mark.parametrize("path", sorted(_compat.PACKAGE_NAMES))
def test_a_name_that_moved_out_of_a_same_named_package_still_resolves(path):
    package, _, name = path.rpartition(".")
    module = importlib.import_module(package)
    vars(module).pop(name, None)
    with pytest.warns(DeprecationWarning, match=f"{path} moved to"):
        assert getattr(module, name) is not None


def test_the_import_paths_the_readme_and_the_example_plugin_use_need_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        from gansearch import Block, BlockArgs, hookimpl, make_activation, make_norm  # noqa: F401
        from gansearch.testing import BlockConformance  # noqa: F401
        importlib.import_module("gansearch_pixelshuffle") if importlib.util.find_spec("gansearch_pixelshuffle") else None


def test_every_package_is_importable_on_its_own_and_says_what_it_is_for():
    for name in ("config", "plugins", "nets", "data", "score", "builtin", "search", "train", "store", "study", "run",
                 "results", "bench", "testing"):
        module = importlib.import_module(f"gansearch.{name}")
        assert module.__doc__ and len(module.__doc__) > 40
        for public in getattr(module, "__all__", ()):
            getattr(module, public)
    assert isinstance(gansearch.trials_dataframe.__doc__, str) and pd is not None
