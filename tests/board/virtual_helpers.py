"""Shared helpers of the virtual-board tests: an example's bundle with its board, random values."""

from __future__ import annotations

import json
import random
from pathlib import Path

from fpgac import backend
from fpgac.backend.board.link import LinkTop
from fpgac.backend.board.virtual import write_virtual_board
from fpgac.bundle import write_bundle
from fpgac.driver import compile_file, optimize
from fpgac.runtime import finish_bundle

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLK_HZ = 48_000_000
BAUD = 3_000_000


def virtual_bundle(source: Path, out: Path) -> Path:
    """Compile ``source`` into a bundle under ``out`` with its virtual board; return it.

    The virtual board is the real link top level (UART, framing, the app's cores)
    at 48 MHz and 3,000,000 baud, as `fpgac build` writes it for the iCEBreaker.
    """
    bundle = write_bundle(optimize(compile_file(source)), out / source.stem,
                          clock_mhz=CLK_HZ / 1e6)
    manifest = json.loads((bundle / "manifest.json").read_text())
    signature = json.loads((bundle / "signature.json").read_text())
    app = backend.elaborate((bundle / "hdl" / f"{manifest['app']}.py").read_text())
    top = LinkTop(app, signature, clk_hz=CLK_HZ, baud=BAUD,
                  design_hash=bytes.fromhex(manifest["files"]["ir.json"]))
    write_virtual_board(top, bundle)
    # The manifest lists every file of the bundle: write it again with the new ones.
    finish_bundle(bundle, {k: manifest[k] for k in ("app", "target", "clock_mhz", "routes",
                                                    "records")})
    return bundle


def random_value(t: dict, rng: random.Random):
    """Return a random value of the IR type descriptor ``t``: extremes now and then."""
    kind = t["kind"]
    if kind == "bool":
        return rng.randrange(2)
    if kind == "int":
        width, signed = t["width"], t["signed"]
        lo = -(1 << (width - 1)) if signed else 0
        hi = lo + (1 << width) - 1
        return rng.choice((lo, hi, 0)) if rng.random() < 0.05 else rng.randint(lo, hi)
    if kind == "record":
        return {f["name"]: random_value(f["type"], rng) for f in t["fields"]}
    return [random_value(t["elem"], rng) for _ in range(t["length"])]
