"""Delay models: the shipped ones are the fits of the committed measurements; widths; costs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from fpgac.ir import Graph
from fpgac.scheduling import DelayModel

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def characterize():
    spec = importlib.util.spec_from_file_location(
        "characterize_delays", ROOT / "benchmarks" / "characterize_delays.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("target", ["ice40", "ecp5"])
def test_shipped_models_are_the_fits_of_the_committed_measurements(characterize, target):
    rows = characterize.read_csv(ROOT / "benchmarks" / "results" / f"delays_{target}.csv")
    shipped = json.loads((ROOT / "compiler" / "scheduling" / "models" / f"{target}.json")
                         .read_text())
    assert json.loads(json.dumps(characterize.fit_target(target, rows))) == shipped


def test_generic_is_the_ice40_model_under_another_name():
    ice40, generic = DelayModel.load("ice40"), DelayModel.load("generic")
    assert generic.target == "generic"
    assert generic.ops == ice40.ops
    assert generic.register_overhead_ns == ice40.register_overhead_ns


def test_the_fit_recovers_a_known_formula(characterize):
    rows = [{"key": "lut", "model_width": lv, "width": 4 ** lv, "period_ns": 3.0 + 2.0 * lv,
             "clk_to_q_ns": 0.5, "setup_ns": 0.5} for lv in (1, 2, 3)]
    rows += [{"key": "add", "model_width": w + 1, "width": w, "period_ns": 1.0 + 4.0 + 0.25 * (w + 1),
              "clk_to_q_ns": 0.5, "setup_ns": 0.5} for w in (4, 8, 16, 32)]
    rows += [{"key": "shift", "model_width": w, "width": w,
              "period_ns": 1.0 + 1.0 + 2.0 * np.log2(w), "clk_to_q_ns": 0.5, "setup_ns": 0.5}
             for w in (4, 8, 16, 32)]
    model = characterize.fit_target("ice40", rows)
    assert model["register_overhead_ns"] == 1.0
    assert model["lut_level_ns"] == pytest.approx(2.0)
    assert model["ops"]["add"]["formula"] == "linear"
    assert model["ops"]["add"]["coeffs"] == pytest.approx([4.0, 0.25], abs=1e-4)
    assert model["ops"]["shift"]["formula"] == "log2"
    assert model["ops"]["shift"]["coeffs"] == pytest.approx([1.0, 2.0], abs=1e-4)
    assert model["ops"]["add"]["fit"]["max_rel_error"] == pytest.approx(0.0, abs=1e-4)


def test_widths_and_free_operations():
    model = DelayModel.load("ice40")
    g = Graph("g")
    x = g.add("param", path="x", width=16, signed=False)
    y = g.add("param", path="y", width=4, signed=False)
    c = g.const(3)
    cases = {
        g.add("add", (x, y)): ("add", 17),
        g.add("mul", (x, y)): ("mul", 16),
        g.add("lt", (x, y)): ("compare", 16),
        g.add("shl", (x, y)): ("shift", 16 + 15),
        g.add("select", (y, x, x, x)): ("mux", 3),
        g.add("mux", (g.add("eq", (y, c)), x, y)): ("mux", 2),
        g.add("rom", (x,), values=list(range(40))): ("rom", 6),
        g.add("ctz", (x,), width=12): ("priority", 12),
    }
    for node_id, (key, width) in cases.items():
        assert model.width_of(g[node_id], g) == width, g[node_id].op
        if g[node_id].op == "mul":  # 16 x 4 bits: one SB_MAC16
            assert model.maps_to_dsp(g[node_id], g)
            assert model.delay(g[node_id], g) == model.dsp.delay_ns
            continue
        assert model.op_delay(g[node_id], g) == model.key_delay(key, width)
        if g[node_id].op not in ("select", "mux", "rom"):  # LUT logic: timed by LUT levels
            assert model.delay(g[node_id], g) == model.key_delay(key, width)
    # Wiring and inversions cost nothing.
    for node_id in (g.add("shr", (x, c)), g.add("and", (x, c)), g.add("xor", (c, x)),
                    g.add("not", (x,)), g.add("wrap", (x,), width=3, signed=False),
                    g.add("concat", (x, y), widths=(16, 4)), g.add("rotl", (x, c), width=16)):
        assert model.delay(g[node_id], g) == 0.0, g[node_id].op
    assert model.delay(g[g.add("xor", (x, y))], g) > 0


def test_an_unknown_target_is_refused():
    with pytest.raises(ValueError, match="unknown target `virtex`"):
        DelayModel.load("virtex")


@pytest.mark.slow
def test_a_fresh_measurement_matches_the_model(characterize, tmp_path):
    row = characterize.measure("ice40", "add", 16, tmp_path)
    model = DelayModel.load("ice40")
    predicted = model.register_overhead_ns + model.key_delay("add", row["model_width"])
    assert row["model_width"] == 17
    assert abs(predicted - row["period_ns"]) / row["period_ns"] < 0.1
