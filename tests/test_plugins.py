import sys
import textwrap
from pathlib import Path

import pytest
import torch.nn as nn
from click.testing import CliRunner

import gansearch
from gansearch.cli import cli
from gansearch.nets import LayerSpec, build_layer
from gansearch.plugins import collect, get_plugin_manager, load_registry
from gansearch.study import prepare

PIXELSHUFFLE = Path(__file__).parents[1] / "plugins" / "gansearch-pixelshuffle"


class WrongScale(nn.Module):
    """Claims to upsample but keeps the size."""

    def __init__(self, a):
        super().__init__()
        self.conv = nn.Conv2d(a.in_channels, a.out_channels, 1)

    def forward(self, x):
        return self.conv(x)


class WrongScalePlugin:
    @gansearch.hookimpl
    def register_blocks(self, register):
        register(gansearch.Block("liar", WrongScale, scale="up", description="broken on purpose"))


def test_builtins_come_through_the_plugin_hooks():
    registry = load_registry(entry_points=False)
    assert {"conv", "deconv", "upsample_conv"} <= set(registry.blocks)
    assert {"digits", "shapes", "folder"} <= set(registry.datasets)
    assert registry.blocks["conv"].plugin == "gansearch.builtin.blocks"
    assert registry.datasets["digits"].plugin == "gansearch.builtin.datasets"


def test_a_plugin_object_adds_a_block():
    registry = load_registry([WrongScalePlugin()], entry_points=False)
    assert registry.block("liar").scale == "up"


def test_duplicate_block_name_names_both_plugins():
    class Dup:
        @gansearch.hookimpl
        def register_blocks(self, register):
            register(gansearch.Block("conv", WrongScale, scale="down"))

    with pytest.raises(gansearch.PluginError, match=r"duplicate block name 'conv'.*gansearch.builtin.blocks.*Dup|"
                                                    r"duplicate block name 'conv'.*Dup.*gansearch.builtin.blocks"):
        load_registry([Dup()], entry_points=False)


def test_registering_something_else_is_an_error():
    class Bad:
        @gansearch.hookimpl
        def register_blocks(self, register):
            register("conv")

    with pytest.raises(gansearch.PluginError, match="expected a gansearch.Block"):
        load_registry([Bad()], entry_points=False)


def test_plugin_that_fails_to_import_names_plugin_and_cause(tmp_path):
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(gansearch.PluginError, match=r"plugin 'broken.py' failed to import: "
                                                    r"ModuleNotFoundError: .*not_a_module_anywhere"):
        load_registry(["broken.py"], base_dir=tmp_path, entry_points=False)
    with pytest.raises(gansearch.PluginError, match=r"plugin 'no_such_plugin_module' failed to import"):
        load_registry(["no_such_plugin_module"], entry_points=False)
    with pytest.raises(gansearch.PluginError, match=r"no such file"):
        load_registry(["missing.py"], base_dir=tmp_path, entry_points=False)


def test_wrong_hook_signature_is_reported():
    class Typo:
        @gansearch.hookimpl
        def register_block(self, register):  # not a hook
            pass

    with pytest.raises(gansearch.PluginError, match="register_block"):
        get_plugin_manager([Typo()], entry_points=False)


def test_block_that_does_not_scale_as_declared_is_caught_when_built():
    registry = load_registry([WrongScalePlugin()], entry_points=False)
    layer = LayerSpec("liar", 3, 2, 8, "none", "relu", {})
    with pytest.raises(gansearch.BlockShapeError) as err:
        build_layer(registry, layer, 4, 4, "generator")
    message = str(err.value)
    assert "'liar'" in message and "WrongScalePlugin" in message
    assert "(2, 4, 4, 4)" in message and "(2, 8, 4, 4)" in message and "(2, 8, 8, 8)" in message


def test_plugin_by_path_from_a_study_file(tmp_path):
    registry = load_registry([str(PIXELSHUFFLE / "gansearch_pixelshuffle.py")], base_dir=tmp_path,
                             entry_points=False)
    assert registry.block("pixel_shuffle").scale == "up"
    assert registry.blocks["pixel_shuffle"].plugin.endswith("gansearch_pixelshuffle.py")


def _dist_info(site, dist, version, entry_point, monkeypatch):
    """An installed distribution's metadata on sys.path, declaring one `gansearch` entry point."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[gansearch]\n{entry_point}\n")
    monkeypatch.syspath_prepend(str(site))


def _fake_installed_plugin(tmp_path, monkeypatch):
    """What `pip install ./plugins/gansearch-pixelshuffle` leaves behind."""
    _dist_info(tmp_path / "site", "gansearch-pixelshuffle", "0.1.0", "pixelshuffle = gansearch_pixelshuffle",
               monkeypatch)
    monkeypatch.syspath_prepend(str(PIXELSHUFFLE))
    monkeypatch.delitem(sys.modules, "gansearch_pixelshuffle", raising=False)


def test_installed_plugin_is_found_through_its_entry_point(tmp_path, monkeypatch):
    _fake_installed_plugin(tmp_path, monkeypatch)
    monkeypatch.delenv("GANSEARCH_DISABLE_PLUGIN_AUTOLOAD")
    registry = load_registry()
    assert registry.blocks["pixel_shuffle"].plugin == "pixelshuffle"
    assert registry.blocks["pixel_shuffle"].version == "gansearch-pixelshuffle 0.1.0"
    # the same file also named by path in a study: used once, no duplicate error
    registry = load_registry([str(PIXELSHUFFLE / "gansearch_pixelshuffle.py")])
    assert registry.blocks["pixel_shuffle"].plugin == "pixelshuffle"


def test_autoload_can_be_switched_off(tmp_path, monkeypatch):
    _fake_installed_plugin(tmp_path, monkeypatch)  # GANSEARCH_DISABLE_PLUGIN_AUTOLOAD=1 from conftest
    assert "pixel_shuffle" not in load_registry().blocks


def _broken_installed_plugin(tmp_path, monkeypatch):
    """An installed plugin whose module raises when imported."""
    site = tmp_path / "site"
    _dist_info(site, "brokenplug", "1.0", "broken = brokenplug_mod", monkeypatch)
    (site / "brokenplug_mod.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.delitem(sys.modules, "brokenplug_mod", raising=False)
    monkeypatch.delenv("GANSEARCH_DISABLE_PLUGIN_AUTOLOAD")


BROKEN_NOTE = "; installed plugin 'broken' failed to import (RuntimeError: boom at import), it may provide it"


def gansearch_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, gansearch.GansearchWarning)]


def test_broken_installed_plugin_is_one_warning_and_other_studies_go_on(tmp_path, monkeypatch, write_study):
    _broken_installed_plugin(tmp_path, monkeypatch)
    with pytest.warns(gansearch.GansearchWarning) as record:
        prepared = prepare(write_study())
    assert gansearch_warnings(record) == [
        "installed plugin 'broken' (entry point brokenplug_mod, brokenplug 1.0) failed to import: "
        "RuntimeError: boom at import; studies that do not use it go on "
        "(set GANSEARCH_DISABLE_PLUGIN_AUTOLOAD=1 to skip installed plugins)"]
    assert prepared.registry.broken == {"broken": "RuntimeError: boom at import"}
    assert prepared.data.shape[0] == 1797


@pytest.mark.parametrize("key, value, message", [
    ("generator.blocks", ["deconv", "pixel_shuffle"], "generator.blocks.1: unknown block 'pixel_shuffle'; available: "),
    ("data.name", "celeba", "data.name: unknown dataset 'celeba'; available: "),
    ("score.metrics", ["fd", "lpips"], "score.metrics.1: unknown metric 'lpips'; available: "),
], ids=["block", "dataset", "metric"])
def test_an_unknown_name_mentions_the_broken_installed_plugin(tmp_path, monkeypatch, write_study, key, value, message):
    _broken_installed_plugin(tmp_path, monkeypatch)
    path = write_study({key: value})
    with pytest.warns(gansearch.GansearchWarning), pytest.raises(gansearch.StudyConfigError) as info:
        prepare(path)
    assert str(info.value).startswith(f"{path}: {message}") and str(info.value).endswith(BROKEN_NOTE)
    assert "\n" not in str(info.value)


def test_plugins_command_lists_broken_installed_plugins(tmp_path, monkeypatch):
    _broken_installed_plugin(tmp_path, monkeypatch)
    with pytest.warns(gansearch.GansearchWarning):
        result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-2:] == ["installed plugins that failed to import:",
                          f"  {'broken':<16} RuntimeError: boom at import"]


@pytest.mark.parametrize("form", ["module", "path"])
def test_a_study_naming_an_installed_plugin_loads_it_once(tmp_path, monkeypatch, write_study, form):
    _fake_installed_plugin(tmp_path, monkeypatch)  # entry point `pixelshuffle`, module `gansearch_pixelshuffle`
    monkeypatch.delenv("GANSEARCH_DISABLE_PLUGIN_AUTOLOAD")
    entry = "gansearch_pixelshuffle" if form == "module" else str(PIXELSHUFFLE / "gansearch_pixelshuffle.py")
    prepared = prepare(write_study({"plugins": [entry], "generator.blocks": ["pixel_shuffle"]}), load_data=False)
    assert prepared.registry.blocks["pixel_shuffle"].plugin == "pixelshuffle"
    assert prepared.registry.blocks["pixel_shuffle"].version == "gansearch-pixelshuffle 0.1.0"


def test_an_installed_plugin_object_and_its_module_in_a_study_load_once(tmp_path, monkeypatch, write_study):
    site = tmp_path / "site"
    _dist_info(site, "objplug", "2.0", "objplug = objplug_mod:plugin", monkeypatch)
    (site / "objplug_mod.py").write_text(textwrap.dedent("""\
        import gansearch

        @gansearch.hookimpl
        def register_datasets(register):  # a module-level hook as well as the object's
            register(gansearch.Dataset("module_set", lambda request: None))

        class Plugin:
            @gansearch.hookimpl
            def register_datasets(self, register):
                register(gansearch.Dataset("object_set", lambda request: None))

        plugin = Plugin()
    """))
    monkeypatch.delitem(sys.modules, "objplug_mod", raising=False)
    monkeypatch.delenv("GANSEARCH_DISABLE_PLUGIN_AUTOLOAD")
    for entry in ("objplug_mod", str(site / "objplug_mod.py")):
        registry = load_registry([entry], base_dir=tmp_path)
        assert "object_set" in registry.datasets and "module_set" not in registry.datasets


def test_plugins_command_lists_blocks_and_datasets_with_their_plugin(tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text(textwrap.dedent(f"""\
        name: s
        plugins: [{PIXELSHUFFLE / 'gansearch_pixelshuffle.py'}]
        data: {{name: digits, resolution: 8}}
        generator: {{blocks: [pixel_shuffle]}}
        discriminator: {{blocks: [conv]}}
    """))
    result = CliRunner().invoke(cli, ["plugins", str(study)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "blocks:"
    conv = next(line for line in lines if line.split()[0] == "conv")
    assert "gansearch.builtin.blocks" in conv and f"gansearch {gansearch.__version__}" in conv
    assert any(line.split()[0] == "pixel_shuffle" and "gansearch_pixelshuffle.py" in line for line in lines)
    assert "datasets:" in lines and any(line.split()[0] == "digits" for line in lines)
    assert "extractors:" in lines and any(line.split()[0] == "layout" for line in lines)
    assert "metrics:" in lines and any(line.split()[0] == "kid" and "lower is better" in line for line in lines)


def test_a_metric_plugin_registers_metrics_and_extractors_through_one_hook():
    class Brightness:
        @gansearch.hookimpl
        def register_metrics(self, register):
            register(gansearch.Extractor("pixels", lambda request: nn.Flatten()))
            register(gansearch.Metric("gap", lambda real, fake: 0.0, extractor="pixels"))

    registry = collect(get_plugin_manager([Brightness()], entry_points=False))
    assert "Brightness" in registry.extractors["pixels"].plugin
    assert registry.metric("gap").extractor == "pixels" and "fd" in registry.metrics


def test_a_metric_name_registered_twice_names_both_plugins():
    class Twice:
        @gansearch.hookimpl
        def register_metrics(self, register):
            register(gansearch.Metric("fd", lambda real, fake: 0.0))

    with pytest.raises(gansearch.PluginError, match=r"duplicate metric name .fd.*Twice.*gansearch.builtin.metrics"):
        collect(get_plugin_manager([Twice()], entry_points=False))


def test_collect_reports_a_plugin_crashing_in_its_hook():
    class Crashes:
        @gansearch.hookimpl
        def register_datasets(self, register):
            raise KeyError("oops")

    with pytest.raises(gansearch.PluginError, match=r"Crashes.*register_datasets.*KeyError"):
        collect(get_plugin_manager([Crashes()], entry_points=False))


def test_a_block_with_a_scale_gansearch_does_not_know_gets_one_clear_error():
    with pytest.raises(ValueError, match="scale must be 'up', 'down' or 'same'"):
        gansearch.Block("sideways", lambda a: None, scale="left")
    with pytest.raises(ValueError, match="strides must be None"):
        gansearch.Block("odd", lambda a: None, scale="up", strides=(0,))


def test_a_block_that_declares_its_strides_is_offered_only_those():
    from gansearch.config import config_from_dict
    from gansearch.search import SearchSpace

    @gansearch.hookimpl
    def register_blocks(register):
        register(gansearch.Block("up3", lambda a: nn.Upsample(scale_factor=a.stride) if a.stride > 1 else
                                 nn.Identity(), scale="up", strides=(3,), description="x3 only"))

    import types

    plugin = types.SimpleNamespace(register_blocks=register_blocks)
    registry = load_registry([plugin], entry_points=False)
    raw = {"name": "t", "data": {"name": "digits", "resolution": 16},
           "generator": {"blocks": ["up3", "deconv"], "strides": [1, 2, 3], "depth": {"low": 2, "high": 2},
                         "widths": [4]},
           "discriminator": {"blocks": ["conv"], "widths": [4]}}
    space = SearchSpace(config_from_dict(raw), registry, 1)
    g = space.nets["generator"]
    assert g.blocks_for(2) == ["deconv"] and g.blocks_for(3) == ["up3", "deconv"]


SHRINKS_WHEN_TRAINING = '''
import torch.nn as nn
import gansearch


class ShrinksWhenTraining(nn.Module):
    """Upsamples as declared in eval mode (the build check), two pixels short in training mode."""

    def __init__(self, a):
        super().__init__()
        self.up = nn.ConvTranspose2d(a.in_channels, a.out_channels, 4, 2, 1)

    def forward(self, x):
        y = self.up(x)
        return y[..., :-2, :-2] if self.training else y


@gansearch.hookimpl
def register_blocks(register):
    register(gansearch.Block("shrinker", ShrinksWhenTraining, scale="up", kernels=(4,), strides=(2,)))
'''


def test_a_block_that_breaks_its_shape_during_training_is_named_in_the_failure(tmp_path, tiny_study):
    """The step itself fails deep in torch (``mat1 and mat2 shapes cannot be multiplied``); the trial's
    failure names the block, its plugin and the layer."""
    (tmp_path / "shrinker.py").write_text(SHRINKS_WHEN_TRAINING)
    path = tiny_study(n_trials=1, plugins="[shrinker.py]", g_blocks="shrinker")
    text = path.read_text().replace("kernels: [3, 4], strides: [1, 2], depth: {low: 1, high: 2}",
                                    "kernels: [4], strides: [2], depth: 1")
    path.write_text(text)
    from gansearch.run import run_study

    with pytest.raises(gansearch.GansearchError, match="trials in a row failed"):
        run_study(path, progress=False)
    failure = gansearch.trials_dataframe(path).loc[0, "failure"]
    assert failure.startswith("BlockShapeError: block 'shrinker' (plugin 'shrinker.py'), layer 0 of the generator")
    assert "during training" in failure and "(the step failed with RuntimeError" in failure
