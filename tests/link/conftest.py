"""Fixtures of the link tests: one compiled bundle for the whole session."""

from __future__ import annotations

import pytest
from fake_board import BoardApp, build_bundle


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    """The directory of the test app's bundle (compiled once)."""
    return build_bundle(tmp_path_factory.mktemp("link"))


@pytest.fixture(scope="session")
def board_app(bundle):
    """The test app as a board sees it: models, leaf layouts, design hash."""
    return BoardApp(bundle)
