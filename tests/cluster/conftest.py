"""A fresh 3-node cluster per test, its nodes' logs printed when the test fails."""

from __future__ import annotations

import pytest

from ..conftest import dump_logs, start_cluster


@pytest.fixture
def fresh_cluster(tmp_path, request):
    """`request.param`, when parametrized indirectly, is extra environment for every node."""
    c = start_cluster(tmp_path, extra_env=getattr(request, "param", None))
    yield c
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        dump_logs(c, lines=80)
    c.stop()
