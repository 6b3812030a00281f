"""Protocol 1.1 per-track timing: an explicit per-frame progress array, validated by field."""
import math

import pytest

import shared_protocol as sp


def _job(progress, frames=4):
    mask = sp.raw_image(bytes([255] * 16), 4, 4, 1)
    ref = sp.raw_image(bytes(4 * 4 * 3), 4, 4, 3)
    body, payloads = sp.job_body(ref, [sp.track(mask, [(0, 0), (3, 3)], name="Ball"),
                                       sp.track(mask, [(0, 0), (3, 0)], progress=progress)],
                                 {"frames": frames, "width": 64, "height": 64})
    return body, payloads


def test_version_is_1_1_and_old_peers_still_talk():
    assert sp.PROTOCOL_VERSION == (1, 1)
    assert sp.is_compatible((1, 0)) and sp.negotiated((1, 0)) == (1, 0)


def test_progress_travels_and_is_read_back():
    body, payloads = _job([0.0, 0.0, 0.5, 1])
    assert body["tracks"][1]["progress"] == [0.0, 0.0, 0.5, 1.0] and "progress" not in body["tracks"][0]
    job = sp.validate_job(body, payloads)
    assert job.tracks[1].progress == (0.0, 0.0, 0.5, 1.0) and job.tracks[0].progress is None
    # Through the codec unchanged (msgpack floats are doubles).
    msg = sp.decode(sp.encode(sp.Message(sp.messages.SUBMIT, body=body, payloads=payloads)))
    assert sp.validate_job(msg.body, msg.payloads).tracks[1].progress == (0.0, 0.0, 0.5, 1.0)


@pytest.mark.parametrize("progress, field, words", [
    ([0.0, 0.5, 1.0], "tracks[1].progress", "one progress value per frame (4"),
    ([0.0, 0.5, 1.0, 1.0, 1.0], "tracks[1].progress", "one progress value per frame (4"),
    ([0.0, math.nan, 1.0, 1.0], "tracks[1].progress[1]", "finite number in [0, 1]"),
    ([0.0, math.inf, 1.0, 1.0], "tracks[1].progress[1]", "finite number in [0, 1]"),
    ([0.0, 0.5, 1.5, 1.0], "tracks[1].progress[2]", "in [0, 1]"),
    ([-0.1, 0.5, 1.0, 1.0], "tracks[1].progress[0]", "in [0, 1]"),
    ([0.0, "half", 1.0, 1.0], "tracks[1].progress[1]", "finite number"),
    ([0.0, True, 1.0, 1.0], "tracks[1].progress[1]", "finite number"),
    ("fast", "tracks[1].progress", "one per frame"),
    ([], "tracks[1].progress", "one per frame"),
])
def test_bad_progress_is_rejected_naming_the_field(progress, field, words):
    body, payloads = _job([0.0, 0.0, 0.0, 0.0])
    body["tracks"][1]["progress"] = progress
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert info.value.field == field and info.value.code == "invalid_field"
    assert words in str(info.value)
