"""The client and the CLI take task fields and status names from the API's own models (one source)."""

from __future__ import annotations

import typing

import pytest

from taskraft import cli_client
from taskraft.api import models as m
from taskraft.api.validation import Status
from taskraft.client import Client, UsageError


class _NoNetwork:
    def request(self, *args, **kwargs):
        raise AssertionError("the client sent a request it should have refused")


@pytest.fixture
def offline_client():
    return Client(["http://127.0.0.1:1"], session=_NoNetwork())


def test_status_names_are_the_models(offline_client):
    assert m.STATUSES == typing.get_args(Status)
    assert cli_client._status_choice.choices == m.STATUSES
    with pytest.raises(UsageError, match="unknown status 'blocked'"):
        offline_client.create_task("t", status="blocked")
    with pytest.raises(UsageError, match="unknown status"):
        offline_client.update_task(1, status="finished")


def test_task_fields_are_the_request_models(offline_client):
    with pytest.raises(UsageError, match="unknown task field"):
        offline_client.update_task(1, owner="me")
    assert set(m.TaskPatch.model_fields) == {"title", "description", "status"}


def test_cli_shows_every_field_of_a_task():
    task = {name: f"<{name}>" for name in m.Task.model_fields}
    lines = cli_client._task_lines(task).splitlines()
    assert [line.split()[0] for line in lines] == list(m.Task.model_fields)
