"""Running a study: ``run_study`` (resume, progress, the run lock), each trial from Optuna's ask to its
tell, the worker loop that keeps a trial going in each lane, worker processes (started, watched,
replaced, never left behind), where interrupts land, and where the run's wall time went.
"""
from gansearch.run._objective import Objective, TrialRun
from gansearch.run._runner import Search, drive, enqueue_baseline, run_study
from gansearch.run._supervisor import STOP_GRACE_S, supervise
from gansearch.run._timeline import Timeline
from gansearch.run._worker import MAX_CONSECUTIVE_FAILURES

__all__ = ['MAX_CONSECUTIVE_FAILURES', 'Objective', 'STOP_GRACE_S', 'Timeline', 'Search', 'TrialRun', 'drive', 'enqueue_baseline', 'run_study', 'supervise']
