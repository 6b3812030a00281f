"""Explicit point tracks (protocol 1.1): a track's N x L x 2 float32 positions instead of an arrow."""
import math
import struct

import pytest

import shared_protocol as sp
from shared_protocol.messages import POINT_TRACK_MARGIN

W, H, FRAMES = 64, 48, 4


def _reference():
    return sp.raw_image(bytes(W * H * 3), W, H, 3)


def _polygon():
    return [[(10, 10), (30, 10), (30, 30)]]


def _positions(count=3, frames=FRAMES, x0=12.0):
    return [[(x0 + p + f, 20.0 + p) for f in range(frames)] for p in range(count)]


def _job(tracks, frames=FRAMES, limits=sp.Limits()):
    body, payloads = sp.job_body(_reference(), tracks, {"frames": frames, "width": 64, "height": 64})
    return sp.validate_job(body, payloads, limits), body, payloads


def test_round_trip_keeps_positions_and_visibility_exactly():
    positions = _positions()
    visible = [[1, 1, 0, 1], [1, 0, 0, 0], [1, 1, 1, 1]]
    job, body, payloads = _job([sp.point_track(_polygon(), positions, visible, name="cube")])
    spec = job.tracks[0].points
    assert job.tracks[0].arrow is None and job.tracks[0].name == "cube"
    assert (spec.count, spec.frames) == (3, FRAMES)
    values = struct.unpack(f"<{3 * FRAMES * 2}f", spec.data)
    assert [values[i:i + 2] for i in range(0, len(values), 2)] == [xy for point in positions for xy in point]
    assert list(spec.visible) == [v for row in visible for v in row]
    # survives the wire
    frames = sp.encode(sp.Message(sp.messages.SUBMIT, body=body, payloads=payloads))
    again = sp.decode(frames)
    assert sp.validate_job(again.body, again.payloads).tracks[0].points == spec


def test_arrow_tracks_and_point_tracks_mix():
    job, _, _ = _job([sp.track(_polygon(), [(1, 1), (5, 5)]), sp.point_track(_polygon(), _positions())])
    assert job.tracks[0].points is None and job.tracks[0].arrow is not None
    assert job.tracks[1].points is not None


def test_numpy_positions_build_the_same_payload():
    np = pytest.importorskip("numpy")
    positions = _positions()
    from_lists = sp.point_track(_polygon(), positions).points
    from_array = sp.point_track(_polygon(), np.asarray(positions, dtype=np.float64)).points
    assert from_lists == from_array


def _expect(tracks, field, frames=FRAMES, code="invalid_field", limits=sp.Limits()):
    with pytest.raises(sp.ProtocolError) as info:
        _job(tracks, frames, limits)
    assert info.value.code == code and info.value.field == field, info.value
    return str(info.value)


def test_frame_count_must_equal_the_jobs_frames():
    message = _expect([sp.point_track(_polygon(), _positions(frames=5))], "tracks[0].points.frames")
    assert "4" in message and "5" in message


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_positions_are_rejected(bad):
    positions = _positions()
    positions[1][2] = (bad, 3.0)
    message = _expect([sp.point_track(_polygon(), positions)], "tracks[0].points.payload")
    assert "point 1 at frame 2" in message


def test_positions_must_stay_within_the_margin():
    inside = _positions()
    inside[0][0] = (-POINT_TRACK_MARGIN * W, (1 + POINT_TRACK_MARGIN) * H)
    _job([sp.point_track(_polygon(), inside)])
    outside = _positions()
    outside[2][3] = ((1 + POINT_TRACK_MARGIN) * W + 1, 5.0)
    assert "point 2 at frame 3" in _expect([sp.point_track(_polygon(), outside)], "tracks[0].points.payload")


def test_point_count_limit_is_the_servers():
    limits = sp.Limits(max_track_points=2)
    _expect([sp.point_track(_polygon(), _positions(count=3))], "tracks[0].points.count", code="too_large",
            limits=limits)
    assert "max_track_points" in sp.Limits().to_body()


def test_payload_size_and_visibility_size_are_checked():
    body, payloads = sp.job_body(_reference(), [sp.point_track(_polygon(), _positions())], {"frames": FRAMES})
    short = payloads[:-1] + [payloads[-1][:-4]]
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, short)
    assert info.value.field == "tracks[0].points.payload"
    body["tracks"][0]["points"]["visible"] = b"\x01" * 5
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert info.value.field == "tracks[0].points.visible"


def test_arrow_and_points_together_are_rejected():
    body, payloads = sp.job_body(_reference(), [sp.point_track(_polygon(), _positions())], {"frames": FRAMES})
    body["tracks"][0]["arrow"] = {"points": [[1, 1], [2, 2]]}
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert info.value.field == "tracks[0]" and "both" in str(info.value)


def test_a_track_without_arrow_or_points_names_the_arrow():
    body, payloads = sp.job_body(_reference(), [sp.track(_polygon(), [(1, 1), (5, 5)])], {"frames": FRAMES})
    del body["tracks"][0]["arrow"]
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert info.value.field == "tracks[0].arrow"


def test_protocol_version_is_1_1():
    assert sp.PROTOCOL_VERSION == (1, 1)
    assert sp.is_compatible((1, 0))
