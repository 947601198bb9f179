"""Beacon's hooks into libraries' private internals (app/adapters/) still hold.

Each adapter was checked against one release: another release fails here until someone
reads the library's change log and the hook's target again, and bumps ``CHECKED_RELEASE``.
The hooks' effects are tested where they matter (test_openapi.py, test_realtime_cluster.py);
these tests say which hook broke when an upgrade breaks one.
"""
import inspect
from importlib.metadata import version

import flask_smorest
import pytest
import socketio
from webargs.flaskparser import FlaskParser

from app.adapters import smorest_spec, socketio_queue
from app.api import ArgumentsParser
from app.errors import BeaconApi


@pytest.mark.parametrize("adapter, distribution", [(smorest_spec, "flask-smorest"),
                                                   (socketio_queue, "python-socketio")])
def test_each_adapter_was_checked_against_the_installed_release(adapter, distribution):
    assert version(distribution) == adapter.CHECKED_RELEASE, (
        f"{distribution} is now {version(distribution)}: check {adapter.__name__} against it, then bump CHECKED_RELEASE")


def test_flask_smorest_still_builds_its_responses_and_serves_its_document_through_the_overridden_methods():
    init_spec = inspect.getsource(flask_smorest.Api._init_spec)
    assert "self._register_responses()" in init_spec
    assert "self._openapi_json" in inspect.getsource(flask_smorest.Api._register_doc_blueprint)
    assert list(inspect.signature(flask_smorest.Api._register_responses).parameters) == ["self"]
    assert BeaconApi._register_responses is smorest_spec.ProblemDocument._register_responses
    assert BeaconApi._openapi_json is smorest_spec.ProblemDocument._openapi_json


def test_the_problem_document_is_what_the_api_serves(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert set(document["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]) == {"application/problem+json"}


def test_python_socketio_still_publishes_through_the_hook_and_skips_only_its_own_host():
    assert "self._publish(message)" in inspect.getsource(socketio.PubSubManager.emit)
    assert list(inspect.signature(socketio.RedisManager._publish).parameters) == ["self", "data"]
    listener = inspect.getsource(socketio.PubSubManager._thread)
    assert "data.get('host_id') != self.host_id" in listener


def test_webargs_loads_the_json_location_with_the_public_loader():
    assert FlaskParser.__location_map__["json"] == "load_json"
    assert list(inspect.signature(FlaskParser.load_json).parameters) == ["self", "req", "schema"]
    assert ArgumentsParser.load_json is not FlaskParser.load_json
