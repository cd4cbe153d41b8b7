"""IR optimization passes and the pass manager that runs them to a fixed point.

Each pass is a class with a ``name`` and ``run(graph) -> bool``, which rewrites
the graph in place, keeps every output's value exact, and says whether it
changed anything.
"""

from .cse import CSE
from .dce import DCE
from .fold import ConstantFold
from .manager import DEFAULT_PIPELINE, Pass, PassManager, optimize_program
from .narrow import NarrowWidths
from .simplify import AlgebraicSimplify
from .strength import StrengthReduce

__all__ = [
    "AlgebraicSimplify", "CSE", "ConstantFold", "DCE", "DEFAULT_PIPELINE", "NarrowWidths",
    "Pass", "PassManager", "StrengthReduce", "optimize_program",
]
