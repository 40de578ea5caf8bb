"""What gansearch records about a trial beyond Optuna's parameters and values, in one dataclass written in
one place: each field that is set becomes a user attribute of the Optuna trial (and a column of the trial
dataframe, under the same name)."""

import dataclasses
from dataclasses import dataclass, field

import optuna


@dataclass
class TrialRecord:
    seed: int | None = None  # the trial's own seed, derived from the study seed and its number
    worker: str | None = None  # host:pid@device (/lane-N when a worker interleaves several trials)
    arch: dict | None = None  # the architecture (ArchSpec as a dict): enough to rebuild the pair
    train: dict | None = None  # the training settings (TrainSpec as a dict)
    g_params: int | None = None  # the generator's parameters
    d_params: int | None = None  # the discriminator's parameters
    g_macs: int | None = None  # multiply-accumulates per generated image
    d_macs: int | None = None  # multiply-accumulates per image the discriminator reads
    reported: dict | None = None  # step -> score (multi-objective studies: what their pruning rule reads)
    pruned_at: int | None = None  # the evaluation step at which it was pruned
    g_latency_ms: float | None = None  # median ms per batch of latency_batch generated images, on its device
    latency_batch: int | None = None
    metrics: dict | None = None  # every metric of a complete trial, each with its <name>_se
    score: float | None = None  # the study's objective (also in Optuna's values for one objective)
    score_se: float | None = None  # its standard error (jackknife)
    failure: str | None = None  # why a failed trial failed
    disk_full: bool | None = None  # its files could not be written: the disk is full
    steps: int | None = None  # training steps it ran
    step_mode: str | None = None  # eager or cuda_graph
    graph_fallback: str | None = None  # why a CUDA graph was asked for and not used
    setup_s: float | None = None  # building the pair, warm-up steps, CUDA graph capture
    train_s: float | None = None  # its own training steps, and waiting for them at each evaluation
    score_s: float | None = None  # scoring
    artifacts_s: float | None = None  # writing its files
    train_precision: str | None = None  # fp32, tf32 or bf16
    samples: str | None = None  # its sample grid, relative to the study's output folder
    generator: str | None = None  # its generator's weights, likewise
    _written: dict = field(default_factory=dict, repr=False)  # what the trial already holds

    def write(self, trial: optuna.Trial) -> None:
        """Set every field that is set and changed since the last write as a user attribute of ``trial``."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("_") or value is None or self._written.get(f.name, object()) == value:
                continue
            trial.set_user_attr(f.name, value)
            self._written[f.name] = value if not isinstance(value, dict) else dict(value)


IDENTITY = "gansearch_identity"  # a translate study's user attribute: what doing nothing scores

# the fields shown as trial dataframe columns of their own (arch, train, reported and metrics are unpacked there)
COLUMNS = ("g_params", "d_params", "g_macs", "d_macs", "g_latency_ms", "latency_batch", "steps", "pruned_at", "failure",
           "setup_s", "train_s", "score_s", "artifacts_s", "step_mode", "train_precision", "graph_fallback", "worker")
