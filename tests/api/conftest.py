"""Fixtures for the fast API tests: the Flask app on an in-memory node, through Flask's test client."""

from __future__ import annotations

import pytest

from taskraft.api.app import create_app

from .memory_node import MemoryNode


@pytest.fixture
def memory_node() -> MemoryNode:
    return MemoryNode()


@pytest.fixture
def app(memory_node):
    app = create_app(memory_node)
    statuses: list[tuple[str, str, int]] = []

    @app.after_request
    def _record(response):
        from flask import request

        statuses.append((request.method, request.full_path, response.status_code))
        return response

    app.extensions["test_statuses"] = statuses
    return app


@pytest.fixture
def client(app):
    """The test client; at teardown, no request of the test may have been answered 500."""
    yield app.test_client()
    failed = [s for s in app.extensions["test_statuses"] if s[2] == 500]
    assert not failed, f"answered 500: {failed}"
