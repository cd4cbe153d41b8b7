"""Benchmark the runtime's dispatch against the raw software model, and a long stream's memory.

For a few example routes, on the same random requests, this measures requests
per second of:

- **model .batch**: the route's software model called directly
  (``RouteModel.batch``), building response records with the same classes
  as the runtime;
- **runtime .batch**: a loaded bundle's route (``load(DIR).route.batch``) on
  the software device: manifest-checked bundle, dispatcher, counters;
- **runtime .stream**: the same through ``.stream`` (chunks of 4096);
- **run_columns**: the model on ready numpy columns (no request or response
  conversion), for scale.

The ratio runtime/model is the dispatcher's overhead (bar: at least 0.8).
Every route's runtime answers are compared with the model's first.

A second part streams 5,000,000 requests (generated lazily) through
``.stream`` in a fresh process and reports the peak resident memory after a
warm-up and at the end.

Run ``python benchmarks/bench_runtime.py`` (1,000,000 requests per route);
``--n 100000 --stream-n 500000`` for a quick run.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from fpgac.driver import compile_file, optimize
from fpgac.ir import program_to_json
from fpgac.runtime import finish_bundle, load

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

#: (example, route name): a record in, an int out; records in and out; ints; an array in.
ROUTES = [("imaging", "luma"), ("imaging", "grey"), ("hashing", "fmix32"), ("crc", "crc32")]


def write_bundle(example: str, parent: Path) -> Path:
    """Write a bundle of ``examples/<example>.py`` (IR, bindings, manifest) under ``parent``."""
    doc = json.loads(json.dumps(program_to_json(optimize(compile_file(EXAMPLES /
                                                                      f"{example}.py")))))
    out = parent / doc["app"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "ir.json").write_text(json.dumps(doc))
    finish_bundle(out, {
        "app": doc["app"], "target": None, "clock_mhz": None, "records": doc["records"],
        "routes": [{"path": r["path"], "name": r["name"], "doc": r.get("doc"),
                    "params": r["params"], "returns": r["returns"], "latency": None,
                    "ii": None} for r in doc["routes"]]})
    return out


def random_value(t: dict, rng: random.Random):
    """Return a random JSON value of a type descriptor (uniform over each integer type)."""
    kind = t["kind"]
    if kind == "bool":
        return rng.randrange(2)
    if kind == "int":
        w = t["width"]
        return rng.randrange(-(1 << (w - 1)), 1 << (w - 1)) if t["signed"] else \
            rng.randrange(1 << w)
    if kind == "record":
        return {f["name"]: random_value(f["type"], rng) for f in t["fields"]}
    return [random_value(t["elem"], rng) for _ in range(t["length"])]


def timed(fn) -> tuple[float, object]:
    """Return the wall time of one call of ``fn`` and its result.

    The result is returned, not dropped, so that freeing it is not timed.
    """
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def measure(route, requests: list, repeat: int) -> tuple[float, float, float, float]:
    """Return the best times of model .batch, runtime .batch, runtime .stream, run_columns.

    Rounds interleave the ways, so that a busy moment of the machine hits all
    of them alike; each way's best round counts. The runtime's answers are
    compared with the model's in every round.
    """
    model = route.model
    columns = {path: np.asarray(col) for path, col in
               zip(model.param_paths, model.signature.columns(requests))}
    best = [float("inf")] * 4
    for _ in range(repeat):
        t, want = timed(lambda: model.batch(requests))
        best[0] = min(best[0], t)
        t, got = timed(lambda: route.batch(requests))
        best[1] = min(best[1], t)
        if got != want:
            raise SystemExit(f"{route.path}: the runtime's .batch differs from the model")
        del got
        t, got = timed(lambda: list(route.stream(requests)))
        best[2] = min(best[2], t)
        if got != want:
            raise SystemExit(f"{route.path}: the runtime's .stream differs from the model")
        del got, want
        t, _ = timed(lambda: model.run_columns(columns))
        best[3] = min(best[3], t)
    return best[0], best[1], best[2], best[3]


STREAM_PROBE = r"""
import json, resource, sys
from fpgac.runtime import load

def peak_mb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

app = load(sys.argv[1], device="software")
n = int(sys.argv[2])
stream = app.luma.stream({"p": {"r": i & 255, "g": (i >> 8) & 255, "b": (i >> 16) & 255}}
                         for i in range(n))
count = 0
for y in stream:
    count += 1
    if count == 50_000:
        break
start, t0 = peak_mb(), __import__("time").perf_counter()
for y in stream:
    count += 1
print(json.dumps({"count": count, "start_mb": start, "peak_mb": peak_mb(),
                  "seconds": __import__("time").perf_counter() - t0}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="requests per route")
    parser.add_argument("--stream-n", type=int, default=5_000_000,
                        help="requests in the memory stream")
    parser.add_argument("--repeat", type=int, default=5,
                        help="rounds per route (the best round counts)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    console = Console(width=120)
    rng = random.Random(args.seed)

    table = Table(title=f"runtime dispatch vs the software model, {args.n:,} requests "
                        f"(best of {args.repeat} rounds; requests per second)")
    for col in ("route", "model .batch", "runtime .batch", "ratio", "runtime .stream", "ratio",
                "run_columns"):
        table.add_column(col, justify="left" if col == "route" else "right")
    worst = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        bundles: dict[str, Path] = {}
        for example, name in ROUTES:
            if example not in bundles:
                bundles[example] = write_bundle(example, Path(tmp))
            app = load(bundles[example], device="software")
            route = app.route(name)
            params = [p for p in json.loads((bundles[example] / "ir.json").read_text())
                      ["routes"] if p["name"] == name][0]["params"]
            requests = [{p["name"]: random_value(p["type"], rng) for p in params}
                        for _ in range(args.n)]
            t_model, t_batch, t_stream, t_columns = measure(route, requests, args.repeat)
            ratio_batch, ratio_stream = t_model / t_batch, t_model / t_stream
            worst = min(worst, ratio_batch)
            table.add_row(f"{example} {route.path}", f"{args.n / t_model:,.0f}",
                          f"{args.n / t_batch:,.0f}", f"{ratio_batch:.2f}x",
                          f"{args.n / t_stream:,.0f}", f"{ratio_stream:.2f}x",
                          f"{args.n / t_columns:,.0f}")
        console.print(table)
        verdict = "meets" if worst >= 0.8 else "MISSES"
        console.print(f"worst runtime/model ratio on .batch: {worst:.2f}x ({verdict} the 0.8x "
                      f"bar)")

        out = subprocess.run([sys.executable, "-c", STREAM_PROBE, str(bundles["imaging"]),
                              str(args.stream_n)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        mem = Table(title=f"imaging /luma: {r['count']:,} requests through .stream "
                          f"(lazy input, fresh process)")
        for col in ("peak RSS after warm-up", "peak RSS at the end", "growth", "requests/s"):
            mem.add_column(col, justify="right")
        mem.add_row(f"{r['start_mb']:.1f} MB", f"{r['peak_mb']:.1f} MB",
                    f"{r['peak_mb'] - r['start_mb']:.1f} MB",
                    f"{(r['count'] - 50_000) / r['seconds']:,.0f}")
        console.print(mem)


if __name__ == "__main__":
    main()
