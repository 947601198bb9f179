"""JSON through ``app/fastjson.py`` (orjson) means what the standard library's would."""
import json

import pytest

from app import fastjson
from app.extensions import db


def test_json_columns_and_socketio_messages_are_encoded_by_fastjson(app):
    from app.extensions import socketio

    assert db.engine.dialect._json_serializer is fastjson.dumps
    assert socketio.server.packet_class.json is fastjson


@pytest.mark.parametrize("value", [
    {"text": "é ☃ \u2028", "list": [1, -2.5, None, True, False], "nested": {"empty": {}, "none": []}},
    [], "plain", 0,
])
def test_fastjson_dumps_means_what_json_dumps_means(value):
    assert json.loads(fastjson.dumps(value)) == value


@pytest.mark.parametrize("value", [{1: "an integer key"}, {"lone": "\ud800"}, {"big": 2 ** 70}])
def test_what_orjson_refuses_the_standard_library_encodes_as_before(value):
    assert fastjson.dumps(value) == json.dumps(value)


def test_fastjson_leaves_other_options_to_the_standard_library():
    value = {"b": 1, "a": [1, 2]}
    assert fastjson.dumps(value, sort_keys=True, indent=2) == json.dumps(value, sort_keys=True, indent=2)
    assert fastjson.dumps(value, separators=(",", ":")) == '{"b":1,"a":[1,2]}'
