"""``gansearch run``: the Optuna objective, resume, progress and per-trial artifacts."""

import sys
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState
from tqdm.auto import tqdm

from .builder import build_pair, count_params
from .errors import GansearchError
from .images import save_samples
from .metrics import FrechetScorer
from .study import Prepared, open_study, prepare, trial_seed
from .trainer import resolve_device, train

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
MAX_CONSECUTIVE_FAILURES = 5


def trial_dir(output_dir: Path, number: int) -> Path:
    return output_dir / "trials" / f"{number:05d}"


class Objective:
    """Builds, trains and scores one trial's pair; writes its samples and generator weights."""

    def __init__(self, prepared: Prepared, device: torch.device):
        self.p = prepared
        self.device = device
        cfg = prepared.config
        self.data = prepared.data.to(device)
        self.scorer = FrechetScorer(self.data, samples=cfg.score.samples, seed=cfg.seed,
                                    feature_seed=cfg.score.feature_seed, device=device,
                                    cache_dir=cfg.output_dir / "cache")

    def __call__(self, trial: optuna.Trial) -> float:
        cfg = self.p.config
        seed = trial_seed(cfg.seed, trial.number)
        arch, spec = self.p.space.suggest(trial, seed)
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("arch", arch.to_dict())
        trial.set_user_attr("train", spec.to_dict())
        g = None
        steps = 0

        def on_eval(step, value):
            nonlocal steps
            steps = step
            trial.report(value, step)
            if trial.should_prune():
                trial.set_user_attr("pruned_at", step)
                raise optuna.TrialPruned(f"pruned at step {step} with score {value:.4g}")

        try:
            g, d = build_pair(arch, self.p.registry, seed)
            trial.set_user_attr("g_params", count_params(g))
            trial.set_user_attr("d_params", count_params(d))
            g, d = g.to(self.device), d.to(self.device)
            result = train(g, d, self.data, spec, self.scorer.score, on_eval)
            steps = result.steps
            return result.score
        except BaseException as exc:  # recorded, then Optuna marks the trial pruned or failed
            if not isinstance(exc, optuna.TrialPruned):
                trial.set_user_attr("failure", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            trial.set_user_attr("steps", steps)
            if g is not None:
                self._save(trial, g, trial_dir(cfg.output_dir, trial.number))

    def _save(self, trial, g, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        samples = save_samples(g, folder / "samples.png", seed=self.p.config.seed)
        weights = folder / "generator.pt"
        torch.save(g.state_dict(), weights)
        root = self.p.config.output_dir
        trial.set_user_attr("samples", str(samples.relative_to(root)))
        trial.set_user_attr("generator", str(weights.relative_to(root)))


def run_study(path, n_trials: int | None = None, progress: bool = True, entry_points: bool | None = None,
              out=sys.stderr, verbose: bool = False) -> optuna.Study:
    """Run (or resume) the study in ``path`` until ``n_trials`` trials have finished (complete or pruned)."""
    prepared = prepare(path, entry_points=entry_points)  # every check, before anything is written
    cfg = prepared.config
    target = n_trials or cfg.n_trials
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    study = open_study(cfg, create=True)
    finished = len(study.get_trials(deepcopy=False, states=FINISHED))
    if finished >= target:
        return study
    objective = Objective(prepared, resolve_device(cfg.train.device))
    bar = tqdm(total=target, initial=finished, desc=cfg.name, unit="trial", file=out, disable=not progress,
               dynamic_ncols=True)
    failures = 0

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial):
        nonlocal failures
        done = len(study.get_trials(deepcopy=False, states=FINISHED))
        failures = 0 if trial.state in FINISHED else failures + 1
        if trial.state in FINISHED:
            bar.update(1)
        best = _best_value(study)
        bar.set_postfix_str(f"best {best:.4g}" if best is not None else "no complete trial yet")
        if trial.state == TrialState.FAIL:
            bar.write(f"trial {trial.number} failed: {trial.user_attrs.get('failure', 'see log')}")
        if done >= target or failures >= MAX_CONSECUTIVE_FAILURES:
            study.stop()

    try:  # a failed trial is recorded with its reason and the study goes on; Ctrl-C still stops it
        study.optimize(objective, timeout=cfg.timeout, callbacks=[callback], catch=(Exception,))
    finally:
        bar.close()
    if failures >= MAX_CONSECUTIVE_FAILURES:
        raise GansearchError(f"{MAX_CONSECUTIVE_FAILURES} trials in a row failed; last: "
                             f"{study.trials[-1].user_attrs.get('failure', 'see log')}")
    return study


def _best_value(study):
    values = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return min(values) if values else None
