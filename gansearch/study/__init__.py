"""A study, checked and resolved: ``prepare`` reads a study file and checks it against the plugins
and this machine (file, then registry names, then the machine), writing nothing, and returns everything
a run needs.
"""
from gansearch.study._prepare import (
    Prepared, check_augmentations, check_data, check_device, check_output, check_storage, check_workers, prepare,
)


def __getattr__(name):  # names that moved to another package keep working for one release
    from gansearch._compat import package_name

    return package_name(__name__, name)


__all__ = ['Prepared', 'check_augmentations', 'check_data', 'check_device', 'check_output', 'check_storage', 'check_workers', 'prepare']
