"""Bad input at the command line: one `Error: ...` line on stderr, exit 2, no traceback, no study created."""

import pytest
from click.testing import CliRunner

from gansearch.cli import cli

# (changes or raw YAML text, fragments the error line must contain besides the file name)
BAD_INPUTS = {
    "malformed_yaml": ("name: t\n  data: oops\n", ["malformed YAML: line 2"]),
    "unknown_key": ({"generator.depht": 3}, ["generator.depht: unknown key; allowed: blocks"]),
    "wrong_type": ({"generator.kernels": "3"}, ["generator.kernels: expected a list of integers"]),
    "unknown_block": ({"generator.blocks": ["deconv", "nosuch"]},
                      ["generator.blocks.1: unknown block 'nosuch'; available: conv, deconv, residual, upsample_conv"]),
    "unknown_dataset": ({"data.name": "mnist"}, ["data.name: unknown dataset 'mnist'; available: digits"]),
    "missing_folder": ({"data": {"name": "folder", "resolution": 16, "path": "missing"}},
                       ["data.path: folder dataset: path", "missing does not exist"]),
    "infeasible": ({"generator.blocks": ["conv"]}, ["generator.blocks: no feasible architecture"]),
    "bad_enum": ({"train.loss": "wgan"}, ["train.loss: 'wgan' is not allowed; expected one of ns, hinge"]),
    "missing_file": (None, ["no such study file"]),
    "block_options": pytest.param({"generator.block_options": {"upsample_conv": {"mode": ["bicubic"]}}},
                                  ["generator.block_options.upsample_conv.mode"]),
    "negative_seed": pytest.param({"seed": -1}, ["seed"]),
    "missing_gpu": ({"devices": ["cuda:99"]}, ["devices: 'cuda:99' is not available here"]),
    "bad_device": ({"devices": "cuda:x"}, ["devices: 'cuda:x' is not a device"]),
    "bad_workers": ({"workers": 0}, ["workers: 0 is not allowed; expected auto or an integer in [1, 1024]"]),
    "bad_task": ({"task": "colourise"}, ["task: 'colourise' is not allowed; expected one of generate, translate"]),
    "bad_condition": ({"task": "translate", "translate.condition": "sepia"},
                      ["translate.condition: 'sepia' is not allowed; expected one of grayscale, downsample"]),
    "bad_d_head": ({"task": "translate", "translate.d_head": ["patch", "global"]},
                   ["translate.d_head.1: 'global' is not allowed; expected one of dense, patch"]),
    "translate_with_dcgan": ({"task": "translate", "baseline": "dcgan"},
                             ["baseline: baseline 'dcgan' is for task 'generate'; a translate study can use seed"]),
    "bad_augment": ({"train.augment": "color translation"}, ["train.augment: 'color translation' is not allowed"]),
    "unknown_augment": ({"train.augment": ["none", "color,warp"]}, ["train.augment.1: unknown augmentation 'warp'"]),
    "bad_trials_per_worker": ({"trials_per_worker": 0},
                              ["trials_per_worker: 0 is not allowed; expected auto or an integer in [1, 64]"]),
    "trials_per_worker_word": ({"trials_per_worker": "many"}, ["trials_per_worker"]),
    "bad_storage": ({"storage": "notaurl"}, ["storage: cannot use 'notaurl'"]),
    "bad_option_type": ({"data": {"name": "folder", "resolution": 16, "path": 3}},
                        ["data: dataset 'folder' (plugin 'gansearch.builtin.datasets') failed to load: TypeError"]),
    "too_few_images": ({"data": {"name": "shapes", "resolution": 16, "count": 1}},
                       ["data: dataset 'shapes' (plugin 'gansearch.builtin.datasets') must return >= 2"]),
    # hostile and absurd input: limits on size, names, and whatever sizes memory or time
    "alias_bomb": ("\n".join(["name: t", "data: {name: digits, resolution: 16}",
                              "discriminator: {blocks: [conv]}", "x0: &x0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]",
                              *[f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 10) + "]" for i in range(1, 9)],
                              "generator: {blocks: [deconv], block_options: {deconv: {k: *x8}}}"]) + "\n",
                   ["the YAML expands to more than 20,000 values"]),
    "recursive_alias": ("name: t\ndata: &d {name: digits, resolution: 16, me: *d}\n", ["alias refers to itself"]),
    "huge_file": ("# " + "x" * 300_000 + "\nname: t\n", ["a study file may have at most 262,144"]),
    "long_list": ({"generator.widths": list(range(1, 101))}, ["generator.widths: has 100 entries; at most 64"]),
    "long_choices": ({"train.lr_g": [1e-4] * 65}, ["train.lr_g: has 65 choices; at most 64"]),
    "name_nul": ({"name": "a\0b"}, ["name: 'a\\x00b' is not allowed; expected a plain file name"]),
    "name_dotdot": ({"name": ".."}, ["name: '..' is not allowed"]),
    "name_dot": ({"name": "."}, ["name: '.' is not allowed"]),
    "name_long": ({"name": "x" * 101}, ["name: ", "1 to 100 characters"]),
    "name_slash": ({"name": "a/b"}, ["name: 'a/b' is not allowed"]),
    "name_backslash": ({"name": "a\\b"}, ["name: ", "is not allowed"]),
    "workers_absurd": ({"workers": 1_000_000}, ["workers: 1000000 is not allowed"]),
    "workers_over_machine": ({"workers": 512}, ["workers: 512 is more than this machine runs at once"]),
    "widths_huge": ({"generator.widths": [100_000]}, ["generator.widths.0: 100000 is not allowed"]),
    "kernel_huge": ({"discriminator.kernels": [99]}, ["discriminator.kernels.0: 99 is not allowed"]),
    "stride_huge": ({"generator.strides": [1, 64]}, ["generator.strides.1: 64 is not allowed"]),
    "depth_huge": ({"generator.depth": {"low": 1, "high": 500}}, ["generator.depth: expected 1 <= low <= high <= 32"]),
    "batch_huge": ({"train.batch_size": 1_000_000}, ["train.batch_size: 1000000 is not allowed"]),
    "batch_range_huge": ({"train.batch_size": {"low": 16, "high": 10**7}}, ["train.batch_size.high: expected"]),
    "latent_huge": ({"train.latent_dim": 100_000}, ["train.latent_dim: 100000 is not allowed"]),
    "steps_huge": ({"train.steps": 10**9}, ["train.steps: 1000000000 is not allowed"]),
    "d_steps_huge": ({"train.d_steps": 1000}, ["train.d_steps: 1000 is not allowed"]),
    "samples_huge": ({"score.samples": 10**7}, ["score.samples: 10000000 is not allowed"]),
    "resolution_huge": ({"data.resolution": 4096}, ["data.resolution: 4096 is not allowed"]),
    "n_trials_huge": ({"n_trials": 10**8}, ["n_trials: 100000000 is not allowed"]),
    "plugin_not_module": ({"plugins": ["my blocks!"]}, ["plugins.0: 'my blocks!' is neither a .py file nor"]),
    "plugin_missing_file": ({"plugins": ["nope.py"]}, ["plugin 'nope.py': no such file"]),
    "plugin_missing_module": ({"plugins": ["no_such_module_xyz"]}, ["plugin 'no_such_module_xyz' failed to import"]),
    "output_not_creatable": ({"output": "/proc/gansearch-x"},
                             ["output: cannot create the output folder /proc/gansearch-x in /proc"]),
    "output_under_a_file": ({"output": "study.yaml/runs"}, ["output: cannot create the output folder"]),
    "sqlite_dir_missing": ({"storage": "sqlite:////nonexistent-gansearch/dir/x.db"},
                           ["storage: the SQLite database's folder /nonexistent-gansearch/dir does not exist"]),
    "not_a_mapping": ("- just\n- a list\n", ["expected a mapping of study settings, got a list"]),
    "deep_nesting": ("name: t\nx: " + "[" * 5000 + "]" * 5000 + "\n", ["malformed YAML: nested too deeply"]),
    "duplicate_key": ("name: t\nn_trials: 3\ndata: {name: digits, resolution: 16}\nn_trials: 6\n",
                      ["malformed YAML: line 4, column 1: duplicate key 'n_trials'"]),
}


def invoke(tmp_path, monkeypatch, *args):
    monkeypatch.chdir(tmp_path)  # anything written relative to the cwd lands where we look
    return CliRunner().invoke(cli, [*args])


def assert_one_error_line(result, *fragments):
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


def assert_nothing_created(tmp_path):
    assert not (tmp_path / "runs").exists()
    assert not list(tmp_path.rglob("*.db"))


@pytest.mark.parametrize("study, expected", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_study_is_one_line_exit_2_and_creates_nothing(tmp_path, monkeypatch, write_study, study, expected):
    if study is None:
        path = tmp_path / "nope.yaml"
    elif isinstance(study, str):
        path = write_study(text=study)
    else:
        path = write_study(study)
    result = invoke(tmp_path, monkeypatch, "run", "--no-progress", str(path))
    assert_one_error_line(result, f"{path}: ", *expected)
    assert_nothing_created(tmp_path)


@pytest.mark.parametrize("command", ["trials", "best"])
def test_analysis_of_a_study_never_run(tmp_path, monkeypatch, write_study, command):
    path = write_study()
    result = invoke(tmp_path, monkeypatch, command, str(path))
    assert_one_error_line(result, f"{path}: no results yet", "gansearch run")
    assert_nothing_created(tmp_path)


def test_debug_shows_the_traceback(tmp_path, monkeypatch, write_study):
    path = write_study({"generator.depht": 3})
    result = invoke(tmp_path, monkeypatch, "--debug", "run", str(path))
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "StudyConfigError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"Error: {path}: generator.depht: unknown key")
    assert_nothing_created(tmp_path)


def test_ctrl_c_says_finished_trials_are_kept(tiny_study, interrupt_trial):
    path = tiny_study(n_trials=3)
    interrupt_trial(2)
    result = CliRunner().invoke(cli, ["run", "--no-progress", str(path)])
    assert result.exit_code == 130
    assert result.stderr.strip() == "Interrupted: finished trials are kept; run the same command again to resume."
    import gansearch

    df = gansearch.trials_dataframe(path)
    assert list(df["state"]) == ["complete", "fail"] and df.loc[1, "failure"] == "interrupted (Ctrl-C)"


def test_skipped_images_are_one_warning_line(tmp_path, monkeypatch, write_study):
    import warnings

    from PIL import Image

    from gansearch import cli as cli_module

    monkeypatch.setattr(warnings, "showwarning", cli_module._one_line_warning)  # as `gansearch` (cli.main) does
    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        Image.new("RGB", (16, 16), (60 * i, 0, 0)).save(images / f"{i}.png")
    for name in ("bad0.png", "bad1.png", "bad2.jpg"):
        (images / name).write_bytes(b"not an image")
    path = write_study({"data": {"name": "folder", "resolution": 16, "path": "images"}})
    result = invoke(tmp_path, monkeypatch, "evaluate", str(path), "--images", str(tmp_path / "none"))
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"Warning: folder dataset: skipped 3 unreadable images of 7 under {images} "
        f"(first: {images / 'bad0.png'}: cannot identify image file); set data.on_error: fail to stop instead")
    assert lines[1].startswith(f"Warning: {path}: the dataset has 4 images, fewer than score.samples (1024)")
    assert lines[2:] == [f"Error: {path}: --images: {tmp_path / 'none'} does not exist"]


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_a_study_path_that_is_no_file_is_one_line_and_never_blocks(tmp_path, monkeypatch, kind):
    """/dev/zero would be read until memory runs out and a FIFO would block for ever: both are refused
    before they are opened, like a folder, in the same one-line form."""
    import os
    import threading

    if kind == "device":
        path, expected = "/dev/zero", "is a device, not a study file"
    elif kind == "fifo":
        path, expected = str(tmp_path / "study.yaml"), "is a FIFO (named pipe), not a study file"
        os.mkfifo(path)
    else:
        path, expected = str(tmp_path / "studies"), "is a folder, not a study file"
        os.mkdir(path)
    done = {}
    worker = threading.Thread(target=lambda: done.update(result=invoke(tmp_path, monkeypatch, "run", path)),
                              daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert "result" in done, f"reading {path} did not return"
    assert_one_error_line(done["result"], f"{path}: {expected}")
    assert_nothing_created(tmp_path)


def test_a_study_file_is_read_only_up_to_its_limit_whatever_its_size_says(tmp_path, monkeypatch):
    from gansearch.config import _load

    path = tmp_path / "study.yaml"
    path.write_text("name: t\n" + "# padding\n" * 100)
    monkeypatch.setattr(_load, "MAX_FILE_BYTES", 64)
    result = invoke(tmp_path, monkeypatch, "run", str(path))
    assert_one_error_line(result, f"{path}: the file has more than 64 bytes; a study file may have at most 64")


def test_data_that_would_not_fit_in_memory_is_refused_before_loading(tmp_path, monkeypatch, write_study):
    from gansearch.builtin import datasets
    from gansearch.study import _prepare

    monkeypatch.setattr(_prepare, "available_memory", lambda: 4 * 10**9)
    monkeypatch.setattr(datasets, "_digits", lambda: pytest.fail("the data was loaded"))
    path = write_study({"data.resolution": 1024, "workers": 1})
    result = invoke(tmp_path, monkeypatch, "run", "--no-progress", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    memory = [line for line in result.stderr.splitlines() if "data.resolution" in line]  # (depth is said too)
    assert memory == [f"Error: {path}: data.resolution: dataset 'digits' at 1024x1024: 1,797 images x 1 channel(s) "
                      "as float32 take 7.5 GB, about 22.6 GB while loading, more than 80% of the 4.0 GB of memory available; "
                      "lower data.resolution or use fewer images"]
    assert_nothing_created(tmp_path)


def test_the_memory_check_counts_each_worker_process_that_loads_the_data(tmp_path, monkeypatch, write_study):
    """digits at 256x256 is 0.47 GB: 1.4 GB while one process loads it fits in 3 GB; two worker processes
    loading at once, besides the run's own copy, do not."""
    from gansearch.study import _prepare

    monkeypatch.setattr(_prepare, "available_memory", lambda: 3 * 10**9)
    path = write_study({"data.resolution": 256, "workers": 2, "devices": "cpu"})
    result = invoke(tmp_path, monkeypatch, "run", "--no-progress", str(path))
    memory = [line for line in result.stderr.splitlines() if "data.resolution: dataset" in line]
    assert result.exit_code == 2 and len(memory) == 1, result.output
    assert "about 3.3 GB while 2 worker processes load it" in memory[0] and memory[0].endswith("or fewer workers")
    assert_nothing_created(tmp_path)
    one = _prepare.worker_processes(_prepare.load_config(write_study({"workers": 1, "devices": "cpu"})))
    assert one == 1
