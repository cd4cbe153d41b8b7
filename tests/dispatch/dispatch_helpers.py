"""A small bundle whose responses identify their requests, and fault-injecting devices."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

from fpgac.driver import compile_source, optimize
from fpgac.ir import program_to_json
from fpgac.runtime import Device, DeviceError, finish_bundle

#: `inc` is injective, so a lost, duplicated or reordered response changes the output list.
ECHO = '''
from fpgac import App, Record, u8, u32

app = App("echo")


class Pair(Record):
    a: u32
    b: u8


@app.post("/inc")
def inc(x: u32) -> u32:
    """Return x + 1, wrapped to 32 bits."""
    return x + 1


@app.post("/pair")
def pair(p: Pair) -> Pair:
    return Pair(a=p.a + 1, b=p.b ^ 255)
'''


def echo_bundle(parent: Path) -> Path:
    """Write the echo app's bundle under ``parent/echo`` and return its directory."""
    doc = json.loads(json.dumps(program_to_json(optimize(compile_source(ECHO, "echo.py")))))
    out = Path(parent) / "echo"
    out.mkdir(parents=True)
    (out / "ir.json").write_text(json.dumps(doc))
    finish_bundle(out, {
        "app": "echo", "target": None, "clock_mhz": None,
        "routes": [{"path": r["path"], "name": r["name"], "doc": r.get("doc"),
                    "params": r["params"], "returns": r["returns"], "latency": 2, "ii": 1}
                   for r in doc["routes"]],
        "records": doc["records"]})
    return out


def inc_requests(n: int, start: int = 0):
    """Yield ``n`` requests of ``/inc`` lazily."""
    for x in range(start, start + n):
        yield {"x": x}


class FaultyDevice(Device):
    """A device that computes with the software model and fails on command.

    - ``delay``: sleep a random time up to this many seconds per call;
    - ``die_after``: every call from this (0-based) call on raises, and health says not ok;
    - ``fail_at``: this one call raises, the others work;
    - ``hang_after``: every call from this one on blocks until :meth:`close`;
    - ``short_after``: from this call on, answers one value short.
    """

    def __init__(self, name: str = "faulty", *, delay: float = 0.0, die_after: int | None = None,
                 fail_at: int | None = None, hang_after: int | None = None,
                 short_after: int | None = None, seed: int = 0):
        self.name = name
        self.delay = delay
        self.die_after = die_after
        self.fail_at = fail_at
        self.hang_after = hang_after
        self.short_after = short_after
        self.rng = random.Random(seed)
        self.calls = 0
        self.answered = 0          # requests answered with a correct result
        self.ok = True
        self.closed = False
        self.release = threading.Event()
        self.lock = threading.Lock()

    def run(self, route, columns):
        with self.lock:
            k = self.calls
            self.calls += 1
            pause = self.rng.uniform(0, self.delay) if self.delay else 0.0
        if pause:
            time.sleep(pause)
        if self.die_after is not None and k >= self.die_after:
            self.ok = False
            raise DeviceError("the link went down")
        if self.fail_at == k:
            raise RuntimeError("a glitch")
        if self.hang_after is not None and k >= self.hang_after:
            self.release.wait()
            raise DeviceError("released after hanging")
        outputs = route.run_columns(columns)
        if self.short_after is not None and k >= self.short_after:
            return {path: column[:-1] for path, column in outputs.items()}
        with self.lock:
            self.answered += len(next(iter(columns.values())))
        return outputs

    def health(self):
        return {"ok": self.ok, "calls": self.calls}

    def close(self):
        self.closed = True
        self.release.set()
