"""A trial from Optuna's ask to its tell, advanced a step at a time."""

import contextlib
import copy
import math
import time
import warnings

import optuna
import torch
from optuna.trial import TrialState

from gansearch.errors import ArtifactError, GansearchError, TrialDiverged
from gansearch.nets._builder import blame, build_pair, count_params
from gansearch.nets._costs import LATENCY_BATCH, discriminator_input, generator_input, latency_ms, macs
from gansearch.plugins._augmentation import make_policy
from gansearch.run import _watchdog as watchdog
from gansearch.run._signals import interruptible, time_limited, trial_ended
from gansearch.score._translate import scorer_for
from gansearch.search._objectives import is_multi, should_prune_on_quality
from gansearch.search._objectives import values as objective_values
from gansearch.search._samplers import trial_seed
from gansearch.store._artifacts import disk_full_cause, save_trial, trial_dir, trial_record
from gansearch.store._fingerprint import fingerprint
from gansearch.store._open import output_lost
from gansearch.store._record import TrialRecord
from gansearch.study._prepare import Prepared
from gansearch.train._interleave import Lane
from gansearch.train._randomness import TrialRandom
from gansearch.train._trainer import Training, memory_format

NO_LIMIT = contextlib.nullcontext()  # a trial without a time limit (reusable: it holds nothing)


class Objective:
    """What a worker's trials share: the study, its data on the device, and the scorer. ``start`` turns
    an asked Optuna trial into a ``TrialRun`` in a lane."""

    def __init__(self, prepared: Prepared, device: torch.device, worker: str = "main"):
        self.p = prepared
        self.device = device
        self.worker = worker
        data = prepared.pairs.train_data() if prepared.pairs is not None else prepared.data
        self.data = data.to(device).contiguous(memory_format=memory_format(device))
        self.scorer = scorer_for(prepared, device)

    def start(self, study: optuna.Study, trial: optuna.Trial, lane: Lane, tag: str = "",
              on_close=None) -> "TrialRun":
        return TrialRun(self, study, trial, lane, tag, on_close)


class TrialRun:
    """One trial from Optuna's ask to its tell, advanced a step at a time (``gansearch.train.interleave``):
    the first ``advance`` builds and sets up the pair, each later one trains a step and, when due, evaluates
    (reporting to Optuna, which may prune it; the last evaluation computes every metric with its standard
    error, once). ``close`` records how it ended, writes its samples, weights and record, and tells Optuna.
    What it records is one ``TrialRecord``, written to the trial after setup (so that other processes see
    who trains it and what it costs), after each evaluation of a multi-objective study, and at the end.
    """

    def __init__(self, objective: Objective, study: optuna.Study, trial: optuna.Trial, lane: Lane,
                 tag: str = "", on_close=None):
        self.o, self.study, self.trial, self.lane, self.on_close = objective, study, trial, lane, on_close
        self.record = TrialRecord(worker=tag or objective.worker)
        self.record.write(trial)  # at once: a supervisor finds a killed worker's trials by it
        self.notes = {"score_seconds": 0.0}  # what the trainer says: step mode, fallback, where the time went
        self.reported = {}  # step -> score, kept in the trial's record on disk
        self.training: Training | None = None
        self.g = None
        self.state, self.value = TrialState.FAIL, None
        self.told = False
        self.heartbeat = heartbeat(study, trial)
        self.heartbeat.__enter__()
        self.limit = objective.p.config.trial_limit  # seconds, or None
        self.deadline = None if self.limit is None else time.monotonic() + self.limit
        if self.limit is not None:
            watchdog.watch(self, self.limit, study, trial)

    def advance(self) -> bool:
        """Set up (first call), else one training step and its evaluation when due. True once complete."""
        limited = NO_LIMIT if self.deadline is None else time_limited(self.deadline, self.limit)
        with interruptible(), limited, self.lane.active():  # an interrupt is recorded
            # as this trial's failure only from in here; so is running past the trial's time limit
            if self.training is None:
                self._setup()
                return False
            self.lane.room()
            self.training.step()
            self.lane.launched()
            if self.training.due:
                self._evaluate()
        return self.state == TrialState.COMPLETE

    def _setup(self) -> None:
        o, trial, record = self.o, self.trial, self.record
        seed = trial.user_attrs.get("confirm_seed", trial_seed(o.p.config.seed, trial.number))  # a confirmation's own
        baseline = o.p.baseline if trial.user_attrs.get("baseline") else None
        self.baseline = baseline
        if baseline is not None and baseline.params is None:  # outside the search space: a fixed design
            arch, spec = baseline.arch, o.p.space.train_spec(baseline.train, seed)
        else:
            arch, spec = o.p.space.suggest(trial, seed)
        self.arch, self.spec = arch, spec
        record.seed, record.arch, record.train = seed, arch.to_dict(), spec.to_dict()
        built = time.perf_counter()
        g, d = build_pair(arch, o.p.registry, seed)
        record.g_params, record.d_params = count_params(g), count_params(d)
        record.g_macs = macs(g, generator_input(arch, 1))  # per image, before moving to the device
        record.d_macs = macs(d, discriminator_input(arch, 1))
        record.write(trial)
        layout = memory_format(o.device)
        self.g, d = g.to(o.device, memory_format=layout), d.to(o.device, memory_format=layout)
        self.notes["build_seconds"] = time.perf_counter() - built
        augment = make_policy(spec.augment, o.p.registry)
        self.training = Training(self.g, d, o.data, spec, augment, TrialRandom(seed, o.device), self.notes,
                                 self.lane.stream)
        self.training.setup()

    def _evaluate(self) -> None:
        """Check the losses and score; the last evaluation computes every metric (with standard errors)."""
        training, cfg, record = self.training, self.o.p.config, self.record
        training.check()
        self.lane.drained()  # check waited for every step launched so far
        step = training.done
        scored = time.perf_counter()
        if training.finished:
            metrics = self.o.scorer.evaluate_generator(self.g)
            value = metrics[self.o.p.plan.objective.name]
        else:
            metrics, value = None, self.o.scorer.score(self.g)
        self.notes["score_seconds"] += time.perf_counter() - scored
        if not math.isfinite(value):
            raise TrialDiverged(f"non-finite score at step {step}")
        record.steps = step
        self.reported[step] = value
        trial, last = self.trial, training.finished
        # a fully trained trial is complete, never pruned; nor is the baseline, every study's yardstick
        if is_multi(cfg):  # Optuna prunes single-objective studies only; here the median rule among cheaper trials
            record.reported = {str(k): v for k, v in self.reported.items()}
            record.write(trial)
            prune = not last and self.baseline is None and should_prune_on_quality(trial, step, value, cfg)
        else:
            trial.report(value, step)
            prune = not last and self.baseline is None and trial.should_prune()
        if prune:
            record.pruned_at = step
            raise optuna.TrialPruned(f"pruned at step {step} with score {value:.4g}")
        if last:
            self._complete(metrics)

    def _complete(self, metrics: dict) -> None:
        record, objective = self.record, self.o.p.plan.objective.name
        record.g_latency_ms = round(latency_ms(self.g, self.arch, self.o.device), 4)
        record.latency_batch = LATENCY_BATCH
        record.metrics, record.score, record.score_se = metrics, metrics[objective], metrics[f"{objective}_se"]
        costs = {"g_params": record.g_params, "g_macs": record.g_macs, "g_latency_ms": record.g_latency_ms}
        self.value = objective_values(self.o.p.config, metrics[objective], metrics, costs)
        self.state = TrialState.COMPLETE

    def close(self, exc: BaseException | None) -> optuna.trial.FrozenTrial | None:
        """Record how the trial ended (``exc``: what stopped it, or None), save its files, tell Optuna."""
        if self.told:
            return None
        record = self.record
        if self.lane.stream is not None:  # steps still running (it failed or was stopped mid-way) finish first
            self.lane.stream.synchronize()
        try:
            if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, or SIGTERM / the run's death (workers.py)
                self.state = TrialState.FAIL
                record.failure = f"interrupted ({exc.args[0] if exc.args else 'Ctrl-C'})"
            elif isinstance(exc, optuna.TrialPruned):
                self.state = TrialState.PRUNED
            elif exc is not None:
                self.state = TrialState.FAIL
                record.failure = f"{type(exc).__name__}: {exc}"
                culprit = self._blame(exc)
                if culprit is not None:
                    record.failure = f"{type(culprit).__name__}: {culprit} (the step failed with {record.failure})"
            self._record_times()
            if self.g is not None:
                saved = time.perf_counter()
                try:
                    self._save()
                except ArtifactError:
                    self.state = TrialState.FAIL
                record.artifacts_s = round(time.perf_counter() - saved, 4)
            record.write(self.trial)
        finally:
            self.heartbeat.__exit__(None, None, None)
            watchdog.forget(self)
            trial_ended()
        values = self.value if self.state == TrialState.COMPLETE else None
        frozen = self.study.tell(self.trial, values, state=None if values is not None else self.state)
        self.told = True
        if self.on_close is not None:
            self.on_close(frozen)
        return frozen

    def _blame(self, exc: BaseException):
        """For an error during training that names no layer (a shape mismatch deep in torch): the layer of
        a plugin or built-in block that broke its declared shape, found by running the pair once more on
        a batch of the training size with each layer's output checked; None if every layer kept it."""
        if self.training is None or not isinstance(exc, RuntimeError) or isinstance(exc, GansearchError):
            return None
        arch, batch = self.arch, self.spec.batch_size
        for net, x in ((self.g, generator_input(arch, batch, self.o.device)),
                       (self.training.d, discriminator_input(arch, batch, self.o.device))):
            with contextlib.suppress(Exception):
                found = blame(copy.deepcopy(net), x)  # a copy: the trial's weights and statistics are saved as they are
                if found is not None:
                    return found
        return None

    def _record_times(self) -> None:
        record, notes = self.record, self.notes
        record.steps = record.steps or 0
        record.step_mode = notes.get("mode")
        record.graph_fallback = notes.get("fallback")
        # where the trial's wall time went: setup (build, warm-up, capture), training, scoring, files
        record.setup_s = round(notes.get("build_seconds", 0.0) + notes.get("setup_seconds", 0.0), 4)
        record.train_s = round(notes.get("train_seconds", 0.0), 4)
        record.score_s = round(notes.get("score_seconds", 0.0), 4)
        record.train_precision = notes.get("precision")

    def _save(self):
        """Samples, weights and the trial's record; a trial whose artifacts cannot be written fails with
        the cause (a full disk also stops the run: see ``_work``)."""
        trial, g, record = self.trial, self.g, self.record
        root = self.o.p.config.output_dir
        folder = trial_dir(root, trial.number)
        names = {"samples": str((folder / "samples.png").relative_to(root)),
                 "generator": str((folder / "generator.pt").relative_to(root))}
        value = self.value if self.state == TrialState.COMPLETE else None
        if not root.is_dir():  # deleted under the run: never made again here, with this trial's files alone in it
            raise output_lost(self.o.p.config)
        try:
            record.write(trial)  # trial.json holds what the trial holds
            saved = {**trial_record(trial, self.state, value, self.reported, names),
                     "fingerprint": fingerprint(self.o.p.config)}
            if hasattr(self.o.scorer, "preview"):  # a translator's grid: condition | output | target rows
                g.preview_pairs = self.o.scorer.preview()
            save_trial(folder, g, self.o.p.config.seed, saved)
        except OSError as exc:
            record.failure = f"cannot save the trial's artifacts in {folder}: {exc.strerror or exc}"
            if disk_full_cause(exc) is not None:
                record.disk_full = True
            raise ArtifactError(record.failure) from exc
        record.samples, record.generator = names["samples"], names["generator"]


def heartbeat(study: optuna.Study, trial: optuna.Trial):
    """Optuna's heartbeat for a trial of an RDB storage (so another run can fail it if this process dies);
    nothing for the journal, whose run lock does that job."""
    try:
        from optuna.storages._heartbeat import get_heartbeat_thread
    except ImportError:  # a later Optuna moved it: no heartbeats, stale trials stay RUNNING
        return contextlib.nullcontext()
    return get_heartbeat_thread(trial._trial_id, study._storage)


def fail_stale_trials(study: optuna.Study) -> None:
    """Trials whose heartbeat stopped (their process died) are failed before a new trial is asked for."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    if is_heartbeat_enabled(study._storage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
