"""The hooks a gansearch plugin can implement.

Each ``register_*`` hook receives a ``register`` callback owned by the core, which validates
every object as it arrives and records which plugin provided it.
"""

import pluggy

hookspec = pluggy.HookspecMarker("gansearch")
hookimpl = pluggy.HookimplMarker("gansearch")


@hookspec
def register_blocks(register):
    """Register layer blocks: call ``register(gansearch.Block(...))`` once per block."""


@hookspec
def register_datasets(register):
    """Register datasets: call ``register(gansearch.Dataset(...))`` once per dataset."""


@hookspec
def register_metrics(register):
    """Register feature extractors and metrics: ``register(gansearch.Extractor(...))`` or
    ``register(gansearch.Metric(...))`` once per object."""


@hookspec
def register_augmentations(register):
    """Register augmentations of the discriminator's inputs: ``register(gansearch.Augmentation(...))``."""
