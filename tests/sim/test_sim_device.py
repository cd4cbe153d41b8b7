"""The runtime's ``sim`` device: a bundle's cores compiled from its ``sim/`` C++, bit-exact.

Every example is compiled into a bundle, and random requests (extremes often)
for every route go through the ``sim`` device and the software model as the
same leaf columns: every response must be equal, and each batch must take
exactly ``n + latency`` cycles, one request per clock. The first run compiles
each example's simulation (cached afterwards): seconds for most, a minute for
the largest.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from sim_helpers import EXAMPLE_FILES, example

from fpgac.bundle import write_bundle
from fpgac.runtime import DeviceError, load
from fpgac.simulate import random_requests

#: Requests per route.
REQUESTS = 2000


def _columns(route, requests) -> dict[str, np.ndarray]:
    """Return IR-leaf requests as the leaf columns a device takes (object arrays: exact)."""
    columns = {}
    for path in route.param_paths:
        column = np.empty(len(requests), dtype=object)
        column[:] = [r[path] for r in requests]
        columns[path] = column
    return columns


def _check_every_route(bundle, program, n: int) -> None:
    latency = {r["path"]: r["latency"]
               for r in json.loads((bundle / "manifest.json").read_text())["routes"]}
    with load(bundle, device="sim") as app, load(bundle, device="software") as software:
        assert app.device.name == "sim"
        for k, route in enumerate(program.routes):
            model = app.model.routes[route.path]
            columns = _columns(model, random_requests(route, n, seed=k))
            got = app.device.run(model, columns)
            want = software.device.run(model, columns)
            assert set(got) == set(want) == set(model.output_paths)
            for path in want:
                assert [int(v) for v in got[path]] == [int(v) for v in want[path]], \
                    (route.path, path)
            last = app.device.stats()["last"]
            assert last == {"route": route.path, "requests": n, "cycles": n + latency[route.path],
                            "latency": latency[route.path]}


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_every_example_runs_exactly_on_the_sim_device(name, tmp_path):
    program = example(name)
    target = "ecp5" if name.startswith("ecp5/") else "ice40"
    bundle = write_bundle(program, tmp_path / "bundle", target=target,
                          clock_mhz=150.0 if target == "ecp5" else 48.0)
    _check_every_route(bundle, program, REQUESTS)


def test_the_sim_device_answers_batches_like_the_software_model(tmp_path):
    program = example("lookup.py")
    bundle = write_bundle(program, tmp_path / "lookup", clock_mhz=48.0)
    _check_every_route(bundle, program, 300)
    # Through the bindings: `.batch` on the device, counted there, no fallback.
    requests = [{"v": v} for v in range(256)]
    with load(bundle, device="sim") as app, load(bundle) as software:
        assert app.gamma.batch(requests) == software.gamma.batch(requests)
        rows = app.metrics()["routes"]["/gamma"]
        assert set(rows) == {"sim"} and rows["sim"]["fallbacks"] == 0
        assert app.gamma.batch([]) == []


def test_a_bundle_without_its_simulation_is_refused_with_what_to_do(tmp_path):
    program = example("lookup.py")
    bundle = write_bundle(program, tmp_path / "lookup", simulator=False)
    assert not (bundle / "sim").exists()
    with pytest.raises(DeviceError, match=r"no simulation of its cores .*fpgac compile"):
        load(bundle, device="sim")
    with pytest.raises(DeviceError, match="takes no argument"):
        load(write_bundle(program, tmp_path / "again"), device="sim:fast")


def test_a_simulation_that_disagrees_with_the_manifest_is_refused(tmp_path):
    from fpgac.runtime import finish_bundle

    program = example("imaging.py")
    bundle = write_bundle(program, tmp_path / "imaging")
    config = json.loads((bundle / "sim" / "sim.json").read_text())
    config["streams"].reverse()
    (bundle / "sim" / "sim.json").write_text(json.dumps(config))
    # An altered file fails the manifest's hash check first.
    with pytest.raises(Exception, match="sim/sim.json"):
        load(bundle, device="sim")
    # Signed again, the routes are still not the manifest's, in order.
    manifest = json.loads((bundle / "manifest.json").read_text())
    finish_bundle(bundle, {k: manifest[k] for k in ("app", "target", "clock_mhz", "routes",
                                                    "records")})
    with pytest.raises(DeviceError, match="does not list the manifest's routes in order"):
        load(bundle, device="sim")
    shutil.rmtree(bundle)
