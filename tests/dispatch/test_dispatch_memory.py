"""An endless stream runs in flat memory: nothing accumulates per request."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

from dispatch_helpers import FaultyDevice, echo_bundle, inc_requests

from fpgac.runtime import load

#: Run in a fresh process, so that the peak resident size is this stream's alone.
PROBE = r"""
import json, resource, sys
from fpgac.runtime import load

def peak_mb():
    # VmHWM is the peak resident set; ru_maxrss (KiB on Linux) where /proc is absent.
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

app = load(sys.argv[1], device="software")
n = int(sys.argv[2])
requests = ({"x": x & 0xFFFFFFFF} for x in range(n))
stream = app.inc.stream(requests)
checked = 0
# Warm up: the first chunks allocate the model's buffers and the interpreter's caches.
for y in stream:
    checked += 1
    if checked == 50_000:
        break
start = peak_mb()
for y in stream:
    checked += 1
    if y != checked & 0xFFFFFFFF:
        raise SystemExit(f"response {checked} is {y}")
print(json.dumps({"start_mb": start, "peak_mb": peak_mb(), "count": checked}))
"""


def test_five_million_requests_stream_in_flat_memory(tmp_path):
    bundle = echo_bundle(tmp_path)
    n = 5_000_000
    out = subprocess.run([sys.executable, "-c", PROBE, str(bundle), str(n)],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["count"] == n
    assert result["peak_mb"] - result["start_mb"] < 50, result


def test_a_device_stream_does_not_accumulate(tmp_path):
    bundle = Path(echo_bundle(tmp_path))
    app = load(bundle, device=FaultyDevice(), chunk=512, depth=4)
    stream = app.inc.stream(inc_requests(150_000))
    for _ in range(20_000):
        next(stream)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        count = 20_000
        for y in stream:
            count += 1
            assert y == count
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 150_000
    # At most depth + 1 chunks of requests, columns and responses are alive at once.
    assert peak - base < 8 << 20, (base, peak)
    assert json.dumps(app.metrics()["routes"]["/inc"]["faulty"]["requests"]) == "150000"
