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
