"""Simulation engines for generated cores: a compiled CXXRTL model, and Amaranth's pysim.

Both push packed request payloads through a core's input stream and collect
the response payloads from its output stream, with random input gaps and
output stalls drawn from the same seeded generator, so the same seed gives the
same cycle-by-cycle trace in both:

    model = build_cxxrtl([core])                  # cached by content hash
    run = model.run_stream(payloads, gap=0.2, stall=0.2, seed=1)
    run = run_pysim(core, payloads, gap=0.2, stall=0.2, seed=1)

``run.responses``, ``run.cycles``, ``run.accepted_at``, ``run.answered_at`` and
``run.seconds`` (time spent clocking the core) describe what happened.
"""

from ._result import StreamRun
from .cxxrtl import (
    CXXFLAGS,
    QUICK_CXXFLAGS,
    BuildError,
    CxxrtlModel,
    Job,
    StreamPorts,
    cache_dir,
    include_dir,
    write_sim_model,
)
from .cxxrtl import build as build_cxxrtl
from .cxxrtl import build_many as build_cxxrtl_many
from .pysim import run_pysim

__all__ = ["CXXFLAGS", "QUICK_CXXFLAGS", "BuildError", "CxxrtlModel", "Job", "StreamPorts",
           "StreamRun", "build_cxxrtl", "build_cxxrtl_many", "cache_dir", "include_dir",
           "run_pysim", "write_sim_model"]
