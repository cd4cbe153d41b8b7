"""Pipeline scheduling: per-target delay models and the schedule of a graph into stages.

``schedule(graph, model=DelayModel.load("ice40"), clock_mhz=48)`` returns a
:class:`Schedule`: node id -> stage, the number of stages (the latency), and the
graph it refers to (a rewritten copy when a slow operation had to be split).
"""

from .delay_model import TARGETS, DelayModel, DspBlock, OpDelay
from .dsp import fuse_constant_products
from .schedule import Schedule, ScheduleError
from .scheduler import asap_stages, schedule, timing_constraints
from .split import SPLITTABLE, split_slow_ops

__all__ = [
    "DelayModel", "DspBlock", "OpDelay", "fuse_constant_products", "TARGETS", "Schedule", "ScheduleError", "schedule",
    "asap_stages", "timing_constraints", "split_slow_ops", "SPLITTABLE",
]
