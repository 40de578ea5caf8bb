"""Training: the shared trainer (a trial's training a step at a time, eager or replayed as a CUDA
graph), each trial's own random state, several trials interleaved by one host thread, and where trials
run (devices, worker slots, measured layouts).
"""
from gansearch.train._trainer import Step, GraphedStep, Training, TrainResult, train, make_step, d_loss, g_loss, memory_format, resolve_precision, sync, sync_stream
from gansearch.train._randomness import TrialRandom
from gansearch.train._interleave import Lane, interleave, lanes_for, signals_held, DEPTH
from gansearch.train._devices import WorkerSlot, plan_workers, resolve_devices, host_cores, cuda_count, max_workers, layout_file, save_layout, measured_layout, GPU_LANES

__all__ = ['DEPTH', 'GPU_LANES', 'GraphedStep', 'Lane', 'Step', 'TrainResult', 'Training', 'TrialRandom', 'WorkerSlot', 'cuda_count', 'd_loss', 'g_loss', 'host_cores', 'interleave', 'lanes_for', 'layout_file', 'make_step', 'max_workers', 'measured_layout', 'memory_format', 'plan_workers', 'resolve_devices', 'resolve_precision', 'save_layout', 'signals_held', 'sync', 'sync_stream', 'train']
