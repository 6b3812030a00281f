"""Protocol 1.1 per-track options: ``rotate`` (turn along the arrow) and ``edge_softness``
(feather width in pixels); left out at their defaults, validated by field."""
import math

import pytest

import shared_protocol as sp


def _job(**options):
    mask = sp.raw_image(bytes([255] * 16), 4, 4, 1)
    ref = sp.raw_image(bytes(4 * 4 * 3), 4, 4, 3)
    return sp.job_body(ref, [sp.track(mask, [(0, 0), (3, 3)], name="Ball"),
                             sp.track(mask, [(0, 0), (3, 0), (3, 3)], **options)],
                       {"frames": 4, "width": 64, "height": 64})


def test_defaults_are_left_out_of_the_body_and_read_back_as_off():
    body, payloads = _job()
    assert all("rotate" not in t and "edge_softness" not in t for t in body["tracks"])
    job = sp.validate_job(body, payloads)
    assert [(t.rotate, t.edge_softness) for t in job.tracks] == [(False, 0.0), (False, 0.0)]


def test_options_travel_and_are_read_back():
    body, payloads = _job(rotate=True, edge_softness=7.5)
    assert body["tracks"][1]["rotate"] is True and body["tracks"][1]["edge_softness"] == 7.5
    msg = sp.decode(sp.encode(sp.Message(sp.messages.SUBMIT, body=body, payloads=payloads)))
    job = sp.validate_job(msg.body, msg.payloads)
    assert (job.tracks[1].rotate, job.tracks[1].edge_softness) == (True, 7.5)
    assert (job.tracks[0].rotate, job.tracks[0].edge_softness) == (False, 0.0)
    body["tracks"][1]["edge_softness"] = 64          # integers and the upper bound are fine
    assert sp.validate_job(body, payloads).tracks[1].edge_softness == 64.0
    body["tracks"][1].update(rotate=None, edge_softness=None)   # nil: the default, as for easing
    assert (sp.validate_job(body, payloads).tracks[1].rotate, sp.validate_job(body, payloads).tracks[1].edge_softness) \
        == (False, 0.0)


@pytest.mark.parametrize("key, value, words", [
    ("rotate", 1, "true or false"),
    ("rotate", "yes", "true or false"),
    ("rotate", 0, "true or false"),
    ("edge_softness", -1, "from 0 to 64"),
    ("edge_softness", 64.5, "from 0 to 64"),
    ("edge_softness", math.nan, "from 0 to 64"),
    ("edge_softness", math.inf, "from 0 to 64"),
    ("edge_softness", "soft", "number of pixels"),
    ("edge_softness", True, "number of pixels"),
])
def test_bad_options_are_rejected_naming_the_field(key, value, words):
    body, payloads = _job()
    body["tracks"][1][key] = value
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert info.value.field == f"tracks[1].{key}" and info.value.code == "invalid_field"
    assert words in str(info.value)
