"""One validation pass, in order: the file, then the names it uses against the plugins, then this machine
(issue 16): whatever else is wrong, the first problem in that order is the one reported."""

import pytest

from gansearch import PluginError, StudyConfigError
from gansearch.study import prepare

BROKEN = {
    "file": {"train.loss": "wgan"},  # a value the file's schema refuses
    "names": {"generator.blocks": ["no_such_block"]},  # a name no plugin registers
    "machine": {"devices": ["cuda:7"]},  # a device this machine lacks
}


@pytest.mark.parametrize("present, expected", [
    (("file", "names", "machine"), "train.loss"),
    (("names", "machine"), "no_such_block"),
    (("machine",), "cuda:7"),
])
def test_the_first_problem_in_file_names_machine_order_is_reported(write_study, present, expected):
    changes = {k: v for part in present for k, v in BROKEN[part].items()}
    with pytest.raises((StudyConfigError, PluginError), match=expected):
        prepare(write_study(changes), load_data=False)


def test_a_run_also_checks_its_workers_and_output_folder_but_reading_does_not(write_study, tmp_path):
    path = write_study({"workers": 1000})
    prepare(path, load_data=False)  # reading a study needs no room for its workers
    with pytest.raises(StudyConfigError, match="workers"):
        prepare(path, load_data=False, run=True)


def test_every_problem_of_a_study_file_is_reported_at_once_in_file_order(tmp_path):
    from click.testing import CliRunner

    from gansearch.cli import cli

    path = tmp_path / "study.yaml"
    path.write_text("name: several\n"
                    "data: {name: folder, path: no_such_folder, resolution: 16}\n"  # only the data phase sees it
                    "generator: {blocks: [deconv], depth: {low: 3, high: 1}}\n"  # a value the file's check refuses
                    "discriminator: {blocks: [conv], norms: [spectral]}\n"
                    "train: {loss: wgan, stepz: 10}\n")
    result = CliRunner().invoke(cli, ["run", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert all(line.startswith(f"Error: {path}: ") for line in lines), lines
    keys = [line.split(": ")[2] for line in lines]
    assert keys == ["data.path", "generator.depth", "discriminator.norms.0", "train.loss", "train.stepz"], lines
    assert not (tmp_path / "runs").exists()


def test_a_plugin_s_block_that_mis_scales_is_reported_with_the_study_file_s_name(tmp_path):
    (tmp_path / "bad_block.py").write_text(
        "import torch.nn as nn\nimport gansearch\n\n"
        "@gansearch.hookimpl\ndef register_blocks(register):\n"
        "    register(gansearch.Block('shrinks', lambda a: nn.Conv2d(a.in_channels, a.out_channels, 3, 2, 1),"
        " scale='up'))\n")
    path = tmp_path / "study.yaml"
    path.write_text("name: s\nplugins: [bad_block.py]\ndata: {name: digits, resolution: 8}\n"
                    "generator: {blocks: [shrinks]}\ndiscriminator: {blocks: [conv]}\n")
    with pytest.raises(PluginError) as err:
        prepare(path, load_data=False)
    assert str(err.value).startswith(f"{path}: ") and "shrinks" in str(err.value)
