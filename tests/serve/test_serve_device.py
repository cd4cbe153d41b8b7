"""Serving and `fpgac run` on a device other than the software model, through the dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from serve_helpers import LiveServer

from fpgac.bundle import write_bundle
from fpgac.cli import main
from fpgac.driver import compile_file, optimize
from fpgac.runtime import Device, load, register_device, unregister_device
from fpgac.runtime.serve import create_app_from_routes, routes_from_bundle

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class CountingDevice(Device):
    """The software model behind the device interface, counting the requests it runs."""

    name = "counting"

    def __init__(self) -> None:
        self.requests = 0

    def run(self, route, columns):
        self.requests += len(next(iter(columns.values())))
        return route.run_columns(columns)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundles") / "imaging"
    write_bundle(optimize(compile_file(EXAMPLES / "imaging.py")), out)
    return out


@pytest.fixture
def counting():
    devices = []

    def factory(bundle_data, arg):
        devices.append(CountingDevice())
        return devices[-1]

    register_device("counting", factory)
    yield devices
    unregister_device("counting")


def test_served_routes_run_on_the_device(bundle, counting):
    app = load(bundle, device="counting")
    with LiveServer(create_app_from_routes(app.app, routes_from_bundle(app))) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        _check_served(app, client)
    # Every good request ran on the device: 1 single + 2 in the batch.
    assert counting[0].requests == 3
    app.close()


def _check_served(app, client):
    reply = client.post("/luma", json={"p": {"r": 10, "g": 20, "b": 30}})
    assert reply.status_code == 200
    assert reply.json() == app.model.route("/luma").handle({"p": {"r": 10, "g": 20, "b": 30}})
    bad = client.post("/luma", json={"p": {"r": 300, "g": 20, "b": 30}})
    assert bad.status_code == 422 and "p.r" in bad.json()["error"]
    lines = "\n".join(json.dumps({"p": {"r": r, "g": 7, "b": 9}}) for r in (1, 999, 3))
    batch = client.post("/luma/batch", content=lines + "\n")
    answers = [json.loads(line) for line in batch.text.splitlines()]
    assert answers[0] == app.model.route("/luma").handle({"p": {"r": 1, "g": 7, "b": 9}})
    assert "p.r" in answers[1]["error"]
    assert answers[2] == app.model.route("/luma").handle({"p": {"r": 3, "g": 7, "b": 9}})


def test_run_streams_a_bundle_through_the_device(bundle, counting):
    lines = [json.dumps({"p": {"r": r, "g": 2 * r % 256, "b": 3 * r % 256}})
             for r in range(0, 256, 5)]
    lines.insert(3, json.dumps({"p": {"r": 1, "g": 2}}))
    result = CliRunner().invoke(main, ["run", str(bundle), "--route", "/luma",
                                       "--device", "counting"], input="\n".join(lines) + "\n")
    assert result.exit_code == 1  # one line refused, every other answered
    out = result.stdout.splitlines()
    model = load(bundle).model.route("/luma")
    assert len(out) == len(lines)
    for text, line in zip(out, lines):
        request = json.loads(line)
        if "b" in request["p"]:
            assert json.loads(text) == model.handle(request)
        else:
            assert json.loads(text)["line"] == 4 and "p.b" in json.loads(text)["error"]
    assert counting[0].requests == len(lines) - 1


def test_run_on_a_device_needs_a_bundle(counting):
    result = CliRunner().invoke(main, ["run", str(EXAMPLES / "imaging.py"), "--route", "/luma",
                                       "--device", "counting"], input="")
    assert result.exit_code == 2 and "give the directory" in result.output


def test_unknown_device_is_refused_with_the_known_ones(bundle):
    result = CliRunner().invoke(main, ["run", str(bundle), "--route", "/luma",
                                       "--device", "nope"], input="")
    assert result.exit_code == 1 and "unknown device 'nope'" in result.output
