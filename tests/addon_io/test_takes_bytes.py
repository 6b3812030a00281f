"""Binary values inside a take's job map (a point track's ``visible``, protocol 1.1) are stored as
base64 where they were and come back as the same bytes; damaged ones are refused naming their
place in the map."""
from __future__ import annotations

import json

import pytest

from blender_addon.io.takes import TakeError, TakeRecord, from_text, to_text

VISIBLE = bytes([1, 0, 1, 1, 255])


def record():
    body = {"tracks": [{"name": "Ball", "visible": VISIBLE}, {"name": "Cup"}],
            "extra": {"mask": bytearray(b"\x00\x07"), "list": [b"x", 2]}, "params": {"seed": 3}}
    return TakeRecord(body=body, payloads=[b"reference" * 4])


def test_bytes_in_the_job_map_round_trip_where_they_were():
    text = to_text(record())
    stored = json.loads(text)["body"]
    assert stored["tracks"][0]["visible"] == {"__bytes_b64__": "AQABAf8="}
    assert stored["extra"]["list"] == [{"__bytes_b64__": "eA=="}, 2]
    back = from_text(text).body
    assert back["tracks"] == [{"name": "Ball", "visible": VISIBLE}, {"name": "Cup"}]
    assert back["extra"] == {"mask": b"\x00\x07", "list": [b"x", 2]}


@pytest.mark.parametrize("where,path", [
    (lambda body: body["tracks"][0], "take.body.tracks[0].visible"),
    (lambda body: body["extra"]["list"][0], "take.body.extra.list[0]"),
])
def test_damaged_bytes_in_the_job_map_name_their_place(where, path):
    data = json.loads(to_text(record()))
    spot = where(data["body"])
    key = "visible" if "visible" in spot else "__bytes_b64__"
    if key == "visible":
        spot["visible"] = {"__bytes_b64__": "AQAB!Af8="}        # a stray character is damage
    else:
        spot["__bytes_b64__"] = "eA=!="
    with pytest.raises(TakeError) as err:
        from_text(json.dumps(data))
    assert str(err.value).startswith(f"{path}: the stored bytes are damaged (")
