"""Benchmark `fpgac serve` on loopback: single JSON requests and the NDJSON batch endpoint.

The server runs in a separate process (uvicorn, as ``fpgac serve`` runs it) on
``examples/imaging.py``. The obvious alternative, measured in the same run, is
the FastAPI endpoint a web developer would write by hand: a pydantic model of
the request (``RGB`` with ``conint(ge=0, le=255)`` fields, strict) and a
handler that calls the same software model.

Single requests are sent by a keep-alive HTTP/1.1 load generator over asyncio
with ``--connections`` connections (what ``wrk`` does, in Python: on a small
machine httpx costs more CPU per request than the server, so an httpx client
would measure itself); a second row uses httpx with a connection pool and
threads. Batches are sent with httpx: one POST of ``--lines`` NDJSON lines,
answered as a stream; the best of ``--repeat`` runs counts.

    python benchmarks/bench_serve.py                 # 20,000 single requests, 200,000-line batches
    python benchmarks/bench_serve.py --single 5000 --lines 50000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import socket
import sys
import threading
import time
from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, conint
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "imaging.py"


# --- the servers (in child processes) --------------------------------------------------------


class RGB(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    r: conint(ge=0, le=255)
    g: conint(ge=0, le=255)
    b: conint(ge=0, le=255)


class LumaRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    p: RGB



def _imaging():
    from fpgac.driver import compile_file, optimize
    from fpgac.ir import program_to_json
    from fpgac.runtime import model_from_ir

    doc = json.loads(json.dumps(program_to_json(optimize(compile_file(EXAMPLE)))))
    return model_from_ir(doc), doc


def run_fpgac(port: int) -> None:
    """Serve the imaging example with ``fpgac.runtime.serve``."""
    from fpgac.runtime.serve import run_server

    model, doc = _imaging()
    run_server(model, doc, "127.0.0.1", port, log_level="warning")


def run_pydantic(port: int) -> None:
    """Serve ``/luma`` the obvious FastAPI way: a pydantic request model per endpoint."""
    import uvicorn
    from fastapi import FastAPI

    model, _ = _imaging()
    luma = model.route("/luma")
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/luma")
    def luma_endpoint(request: LumaRequest) -> int:
        return luma(p=request.p.model_dump())

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server in a child process, up until the ``with`` block ends."""

    def __init__(self, target):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = multiprocessing.get_context("spawn").Process(
            target=target, args=(self.port,), daemon=True)

    def __enter__(self) -> Server:
        self.process.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.join(10)


# --- the load generators -----------------------------------------------------------------------


def _requests(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [{"p": {"r": rng.randrange(256), "g": rng.randrange(256), "b": rng.randrange(256)}}
            for _ in range(n)]


async def _keep_alive(port: int, path: str, bodies: list[bytes], out: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
    for body in bodies:
        writer.write(f"{head}content-length: {len(body)}\r\n\r\n".encode() + body)
        header = await reader.readuntil(b"\r\n\r\n")
        if not header.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected answer: {header[:60]!r}")
        start = header.lower().index(b"content-length:") + 15
        length = int(header[start:header.index(b"\r\n", start)])
        out.append(await reader.readexactly(length))
    writer.close()
    await writer.wait_closed()


def single_asyncio(url: str, path: str, requests: list[dict], connections: int
                   ) -> tuple[float, list[bytes]]:
    """Send ``requests`` one per POST over ``connections`` keep-alive connections."""
    port = int(url.rsplit(":", 1)[1])
    bodies = [json.dumps(r).encode() for r in requests]
    parts = [bodies[i::connections] for i in range(connections)]
    outs: list[list[bytes]] = [[] for _ in parts]

    async def run() -> None:
        await asyncio.gather(*(_keep_alive(port, path, p, o) for p, o in zip(parts, outs)))

    start = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - start
    answers = [None] * len(bodies)
    for i, out in enumerate(outs):
        answers[i::connections] = out
    return elapsed, answers


def single_httpx(url: str, path: str, requests: list[dict], threads: int) -> float:
    """Send ``requests`` one per POST with an httpx client shared by ``threads`` threads."""
    bodies = [json.dumps(r).encode() for r in requests]
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    with httpx.Client(base_url=url, limits=limits) as client:

        def work(part: list[bytes]) -> None:
            for body in part:
                if client.post(path, content=body).status_code != 200:
                    raise RuntimeError("a request was refused")

        workers = [threading.Thread(target=work, args=(bodies[i::threads],))
                   for i in range(threads)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return time.perf_counter() - start


def batch(url: str, path: str, body: bytes, lines: int) -> tuple[float, bytes]:
    """POST one NDJSON batch and read the streamed answer; return the time and the answer."""
    with httpx.Client(base_url=url, timeout=600) as client:
        start = time.perf_counter()
        with client.stream("POST", path, content=body) as response:
            answer = response.read()
        elapsed = time.perf_counter() - start
    if response.status_code != 200 or answer.count(b"\n") != lines:
        raise RuntimeError(f"the batch was not answered line for line ({response.status_code})")
    return elapsed, answer


# --- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=20_000, help="single requests per row")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4, help="httpx client threads")
    parser.add_argument("--lines", type=int, default=200_000, help="lines per batch")
    parser.add_argument("--repeat", type=int, default=3, help="batches per route (best counts)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    model, _ = _imaging()
    requests = _requests(args.single, args.seed)
    want = [str(v).encode() for v in model.route("/luma").batch(requests)]
    rows: list[tuple[str, str, int, float]] = []

    with Server(run_pydantic) as server:
        elapsed, answers = single_asyncio(server.url, "/luma", requests, args.connections)
        if answers != want:
            raise RuntimeError("FastAPI + pydantic answered differently from the model")
        rows.append(("POST /luma, FastAPI + pydantic model",
                     f"asyncio, {args.connections} connections", len(requests), elapsed))

    with Server(run_fpgac) as server:
        elapsed, answers = single_asyncio(server.url, "/luma", requests, args.connections)
        if answers != want:
            raise RuntimeError("fpgac serve answered differently from the model")
        rows.append(("POST /luma, fpgac serve", f"asyncio, {args.connections} connections",
                     len(requests), elapsed))
        n = max(1, args.single // 4)
        rows.append(("POST /luma, fpgac serve", f"httpx, {args.threads} threads", n,
                     single_httpx(server.url, "/luma", requests[:n], args.threads)))
        batch_requests = _requests(args.lines, args.seed + 1)
        body = "".join(json.dumps(r) + "\n" for r in batch_requests).encode()
        for path in ("/luma", "/ycbcr"):
            route = model.route(path)
            best = float("inf")
            for _ in range(args.repeat):
                elapsed, answer = batch(server.url, path + "/batch", body, args.lines)
                best = min(best, elapsed)
            head = [json.loads(line) for line in answer.splitlines()[:1000]]
            if head != route.batch(batch_requests[:1000]):
                raise RuntimeError(f"{path}/batch answered differently from the model")
            rows.append((f"POST {path}/batch (NDJSON)", "httpx, one stream", args.lines, best))

    baseline = rows[0][2] / rows[0][3]
    table = Table(title=f"fpgac serve on loopback ({sys.platform}, uvicorn, one server "
                        f"process)")
    for column in ("endpoint", "client", "requests", "seconds", "requests/s",
                   "× FastAPI + pydantic"):
        table.add_column(column, justify="left" if column in ("endpoint", "client") else "right")
    for endpoint, client, n, elapsed in rows:
        rate = n / elapsed
        table.add_row(endpoint, client, f"{n:,}", f"{elapsed:.2f}", f"{rate:,.0f}",
                      f"{rate / baseline:.1f}")
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
