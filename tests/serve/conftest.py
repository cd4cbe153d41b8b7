"""Fixtures of the serving tests: compiled apps and live servers on loopback."""

from __future__ import annotations

import httpx
import pytest
from serve_helpers import example_doc, mixed_doc, serve_doc


@pytest.fixture(scope="session")
def imaging_doc():
    return example_doc("imaging")


@pytest.fixture(scope="session")
def mixed():
    return mixed_doc()


@pytest.fixture(scope="module")
def imaging(imaging_doc):
    """A live server of the imaging example: ``(client, model)``."""
    server, model = serve_doc(imaging_doc)
    with server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client, model


@pytest.fixture(scope="module")
def mixed_server(mixed):
    """A live server of the mixed test app: ``(client, model)``."""
    server, model = serve_doc(mixed)
    with server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client, model
