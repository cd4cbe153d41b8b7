"""Pipeline scheduling: per-target delay models and the schedule of a graph into stages.

``schedule(graph, model=DelayModel.load("ice40"), clock_mhz=48)`` returns a
:class:`Schedule`: node id -> stage, the number of stages (the latency), and the
graph it refers to (a rewritten copy when a slow operation had to be split).
"""

from .delay_model import TARGETS, BlockRam, DelayModel, DspBlock, LutMapping, OpDelay
from .dsp import dsp_products, fuse_constant_products, limit_dsp_products, lut_cost
from .lut_timing import LutTimer
from .schedule import Schedule, ScheduleError
from .scheduler import (
    ScheduleTooLarge,
    asap_stages,
    block_rom_pairs,
    block_rom_reads,
    mapped_asap_stages,
    registered_dsp_pairs,
    schedule,
    schedule_app,
    timing_constraints,
)
from .split import SPLITTABLE, split_slow_ops

__all__ = [
    "BlockRam", "DelayModel", "DspBlock", "LutMapping", "LutTimer", "OpDelay",
    "block_rom_pairs", "block_rom_reads", "fuse_constant_products",
    "TARGETS", "Schedule", "ScheduleError", "ScheduleTooLarge", "schedule", "asap_stages", "mapped_asap_stages",
    "registered_dsp_pairs", "schedule_app", "timing_constraints", "split_slow_ops", "SPLITTABLE",
    "dsp_products", "limit_dsp_products", "lut_cost",
]
