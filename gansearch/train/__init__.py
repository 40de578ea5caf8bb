"""Training: the shared trainer (a trial's training a step at a time, eager or replayed as a CUDA
graph), each trial's own random state, several trials interleaved by one host thread, and where trials
run (devices, worker slots, measured layouts).
"""
from gansearch.train._devices import (
    GPU_LANES, WorkerSlot, cuda_count, host_cores, layout_file, max_workers, measured_layout, plan_workers,
    resolve_devices, save_layout,
)
from gansearch.train._interleave import DEPTH, Lane, interleave, lanes_for, signals_held
from gansearch.train._randomness import TrialRandom
from gansearch.train._trainer import (
    GraphedStep, Step, Training, TrainResult, d_loss, g_loss, make_step, memory_format, resolve_precision, sync,
    sync_stream, train,
)

__all__ = ['DEPTH', 'GPU_LANES', 'GraphedStep', 'Lane', 'Step', 'TrainResult', 'Training', 'TrialRandom', 'WorkerSlot', 'cuda_count', 'd_loss', 'g_loss', 'host_cores', 'interleave', 'lanes_for', 'layout_file', 'make_step', 'max_workers', 'measured_layout', 'memory_format', 'plan_workers', 'resolve_devices', 'resolve_precision', 'save_layout', 'signals_held', 'sync', 'sync_stream', 'train']
