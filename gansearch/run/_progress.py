"""The run's progress bar."""

from optuna.trial import TrialState

from gansearch.search._objectives import score_of

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def show(bar, trials, trial=None):
    done = sum(t.state in FINISHED for t in trials)
    if done > bar.n:
        bar.update(done - bar.n)
    values = [score_of(t) for t in trials if t.state == TrialState.COMPLETE]
    bar.set_postfix_str(f"best {min(values):.4g}" if values else "no complete trial yet")
    if trial is not None and trial.state == TrialState.FAIL:
        bar.write(f"trial {trial.number} failed: {trial.user_attrs.get('failure', 'see log')}")
