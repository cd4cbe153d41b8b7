"""The QoR benchmark's hand-written cores agree bit for bit with the software model.

Each core runs a few hundred random requests in Amaranth's simulator, with random
input gaps and output stalls, and every response is compared with the example's
decorated handler (the bit-exact software model).
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest
from amaranth.hdl import Value

from fpgac.backend import simulate_stream

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from qor.hand_cores import HAND_CORES  # noqa: E402

N = 300


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"qor_example_{name}", ROOT / "examples" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _u(value: int, width: int) -> int:
    return value & ((1 << width) - 1)


def _cases(path: str, rng: random.Random):
    """Return ``(request bits, expected response bits)`` pairs for ``path``."""
    if path == "/luma":
        ex = _example("imaging.py")
        for _ in range(N):
            r, g, b = (rng.randrange(256) for _ in range(3))
            yield r | g << 8 | b << 16, ex.luma(ex.RGB(r=r, g=g, b=b))
        for r, g, b in ((0, 0, 0), (255, 255, 255)):
            yield r | g << 8 | b << 16, ex.luma(ex.RGB(r=r, g=g, b=b))
    elif path == "/crc32":
        ex = _example("crc.py")
        for _ in range(N):
            data = [rng.randrange(256) for _ in range(16)]
            yield int.from_bytes(bytes(data), "little"), ex.crc32(data)
    elif path == "/mul_q15":
        ex = _example("saturating.py")
        edges = [-32768, -32767, -1, 0, 1, 32767]
        pairs = [(a, b) for a in edges for b in edges]
        pairs += [(rng.randrange(-32768, 32768), rng.randrange(-32768, 32768)) for _ in range(N)]
        for a, b in pairs:
            yield _u(a, 16) | _u(b, 16) << 16, _u(ex.mul_q15(a, b), 16)
    elif path == "/fmix32":
        ex = _example("hashing.py")
        for h in [0, 1, 0xFFFFFFFF] + [rng.randrange(1 << 32) for _ in range(N)]:
            yield h, ex.fmix32(h)
    else:
        raise AssertionError(f"no cases for {path}")


@pytest.mark.parametrize("file, path", sorted(HAND_CORES), ids=lambda x: str(x))
def test_hand_core_matches_software_model(file, path):
    rng = random.Random(path)
    requests, expected = zip(*_cases(path, rng))
    core = HAND_CORES[(file, path)]()
    result = simulate_stream(core, list(requests), gap=0.2, stall=0.3, seed=len(path))
    # The simulator reads a signed payload as a negative number: compare bit patterns.
    width = len(Value.cast(core.o.payload))
    assert [_u(r, width) for r in result.responses] == list(expected)
    assert len(result.accepted_at) == len(requests)


@pytest.mark.parametrize("file, path", sorted(HAND_CORES), ids=lambda x: str(x))
def test_hand_core_full_rate(file, path):
    """With no gaps and no stalls, N requests take N + LATENCY cycles (II = 1)."""
    cls = HAND_CORES[(file, path)]
    requests = [0] * 50
    result = simulate_stream(cls(), requests)
    assert result.cycles == len(requests) + cls.LATENCY
    assert result.answered_at[0] == cls.LATENCY + 1
