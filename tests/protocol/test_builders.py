"""Every builder writes exactly the header and body the spec (docs/protocol.md) names.

A round trip through encode/decode only shows that a message survives the wire; these tests
pin what each builder puts in it, so a renamed key, a lost conversion or a swapped argument fails.
"""

import struct

import pytest

import shared_protocol as sp
from shared_protocol import messages as m

from .conftest import solid_png


def said(error) -> tuple:
    return error.code, error.field, error.message


def test_png_image_reads_its_size_and_channels():
    image = sp.png_image(bytearray(solid_png(7, 3, color_type=6)))
    assert (image.format, image.width, image.height, image.channels) == ("png", 7, 3, 4)
    assert type(image.data) is bytes and image.data == solid_png(7, 3, color_type=6)


def test_png_image_refuses_what_is_not_a_png():
    with pytest.raises(sp.ProtocolError) as info:
        sp.png_image(b"GIF89a" + bytes(20))
    assert (info.value.code, info.value.field) == ("invalid_field", "png")
    assert info.value.message == "not a PNG: the 8-byte PNG signature is missing"
    assert info.value.__cause__ is None


def test_raw_image_keeps_integers_and_bytes():
    image = sp.raw_image(bytearray(b"\x01\x02\x03"), 1.0, 1, "3")
    assert image == sp.ImagePayload("raw", b"\x01\x02\x03", 1, 1, 3)
    assert type(image.data) is bytes and type(image.width) is int and type(image.channels) is int


def test_track_converts_points_and_keeps_its_options():
    item = sp.track([[[0, 0], [1, 0], [1, 1]]], [(1, 2), (3, 4)], "ease-in", name="ball", progress=[0, 1],
                    rotate=1, edge_softness=2)
    assert item.arrow == [[1.0, 2.0], [3.0, 4.0]] and all(type(c) is float for p in item.arrow for c in p)
    assert (item.easing, item.name, item.progress, item.rotate, item.edge_softness) == \
        ("ease-in", "ball", [0.0, 1.0], True, 2.0)
    assert type(item.progress[1]) is float and item.rotate is True and type(item.edge_softness) is float
    plain = sp.track([[[0, 0], [1, 0], [1, 1]]], [(0, 0), (1, 1)])
    assert (plain.easing, plain.name, plain.progress, plain.rotate, plain.edge_softness, plain.points) == \
        ("linear", None, None, False, 0.0, None)


def test_job_body_numbers_payloads_in_track_order():
    reference = sp.raw_image(bytes(4 * 2 * 3), 4, 2, 3)
    mask_a = sp.raw_image(b"\x01" * 8, 4, 2, 1)
    mask_b = sp.png_image(solid_png(4, 2, color_type=0, value=255))
    tracks = [sp.track(mask_a, [(0, 0), (1, 1)]),
              sp.track([[(0, 0), (4, 0), (4, 2)]], [(1, 1), (2, 2)], "ease-out", name="poly"),
              sp.point_track(mask_b, [[(1, 1), (2, 2)]], visible=[[1, 0]]),
              sp.track(mask_a, [(0, 0), (3, 1)], progress=[0, 0.5], rotate=True, edge_softness=1.5)]
    body, payloads = sp.job_body(reference, tracks, {"frames": 2})
    assert payloads[0] == reference.data and payloads[1] == mask_a.data and payloads[2] == mask_b.data
    assert payloads[3] == struct.pack("<4f", 1, 1, 2, 2) and payloads[4] == mask_a.data and len(payloads) == 5
    assert body["reference"] == {"payload": 0, "format": "raw", "width": 4, "height": 2, "channels": 3}
    assert body["params"] == {"frames": 2}
    assert body["tracks"][0] == {"mask": {"kind": "bitmap", "payload": 1, "format": "raw", "width": 4, "height": 2},
                                 "arrow": {"points": [[0.0, 0.0], [1.0, 1.0]]}, "easing": "linear"}
    assert body["tracks"][1] == {"mask": {"kind": "polygons", "polygons": [[[0.0, 0.0], [4.0, 0.0], [4.0, 2.0]]]},
                                 "arrow": {"points": [[1.0, 1.0], [2.0, 2.0]]}, "easing": "ease-out", "name": "poly"}
    assert body["tracks"][2] == {"mask": {"kind": "bitmap", "payload": 2, "format": "png", "width": 4, "height": 2},
                                 "points": {"payload": 3, "format": "f32", "count": 1, "frames": 2,
                                            "visible": b"\x01\x00"}}
    assert body["tracks"][3] == {"mask": {"kind": "bitmap", "payload": 4, "format": "raw", "width": 4, "height": 2},
                                 "arrow": {"points": [[0.0, 0.0], [3.0, 1.0]]}, "easing": "linear",
                                 "progress": [0.0, 0.5], "rotate": True, "edge_softness": 1.5}
    job = sp.validate_job(body, payloads)
    assert job.tracks[2].points.visible == b"\x01\x00" and job.tracks[1].name == "poly"
    all_visible = sp.job_body(reference, [sp.point_track(mask_b, [[(1, 1), (2, 2)]])], {"frames": 2})[0]
    assert all_visible["tracks"][0]["points"] == {"payload": 2, "format": "f32", "count": 1, "frames": 2}


def test_job_body_of_a_png_reference_has_no_channels_and_params_are_copied():
    params = {"seed": 3}
    body, payloads = sp.job_body(sp.png_image(solid_png(4, 2)), [sp.track([[(0, 0), (4, 0), (4, 2)]], [(0, 0), (1, 1)])],
                                 params)
    assert body["reference"] == {"payload": 0, "format": "png", "width": 4, "height": 2}
    body["params"]["seed"] = 4
    assert params == {"seed": 3}
    assert sp.job_body(sp.png_image(solid_png(4, 2)), [])[0]["params"] == {}


def test_point_track_from_lists_is_little_endian_float32_point_major():
    item = sp.point_track("mask", [[(1, 2), (3, 4), (5, 6)], [(7, 8), (9, 10), (11, 12)]], name="pts")
    assert item.arrow is None and item.name == "pts" and item.mask == "mask"
    assert (item.points.count, item.points.frames, item.points.visible) == (2, 3, None)
    assert item.points.data == struct.pack("<12f", *range(1, 13))


def test_point_track_visibility_is_one_byte_per_point_and_frame():
    item = sp.point_track("m", [[(0, 0), (1, 1)], [(2, 2), (3, 3)]], visible=[[True, 0], [5, None]])
    assert item.points.visible == b"\x01\x00\x01\x00"


def test_point_track_from_numpy_matches_lists():
    np = pytest.importorskip("numpy")
    positions = np.arange(12, dtype=np.float64).reshape(2, 3, 2)
    item = sp.point_track("m", positions, visible=np.array([[2, 0, 1], [0, 0, 7]]))
    assert (item.points.count, item.points.frames) == (2, 3)
    assert item.points.data == struct.pack("<12f", *range(12))
    assert item.points.visible == b"\x01\x00\x01\x00\x00\x01"


def test_point_track_refuses_ragged_or_misshapen_positions():
    np = pytest.importorskip("numpy")
    with pytest.raises(sp.ProtocolError) as info:
        sp.point_track("m", [[(0, 0), (1, 1)], [(2, 2)]])
    assert said(info.value) == ("invalid_field", "points", "expected the same number of frames for every point")
    for shape in ((2, 3), (2, 3, 3), (1, 2, 3, 2)):
        with pytest.raises(sp.ProtocolError) as info:
            sp.point_track("m", np.zeros(shape))
        assert said(info.value) == ("invalid_field", "points", f"expected N x L x 2 positions, got shape {shape}")
    empty = sp.point_track("m", [])
    assert (empty.points.count, empty.points.frames, empty.points.data) == (0, 0, b"")


def test_client_messages_have_the_spec_bodies():
    hello = sp.make_hello("blender/1")
    assert (hello.type, hello.body) == ("hello", {"client": "blender/1", "protocol": list(sp.PROTOCOL_VERSION)})
    reference = sp.png_image(solid_png(4, 2))
    tracks = [sp.track([[(0, 0), (4, 0), (4, 2)]], [(0, 0), (1, 1)])]
    for make, kind in ((sp.make_submit, "submit"), (sp.make_plan, "plan")):
        msg = make(reference, tracks, {"frames": 3})
        assert (msg.type, (msg.body, msg.payloads)) == (kind, sp.job_body(reference, tracks, {"frames": 3}))
    cancel = sp.make_cancel("j1")
    assert (cancel.type, cancel.job, cancel.body, cancel.seq) == ("cancel", "j1", {}, None)
    assert (sp.make_status().type, sp.make_status().body) == ("status", {})
    ping = sp.make_ping(5)
    assert (ping.type, ping.body) == ("ping", {"t": 5.0}) and type(ping.body["t"]) is float
    pong = sp.make_pong(ping)
    assert (pong.type, pong.re, pong.body) == ("pong", ping.id, {"t": 5.0})
    assert sp.make_pong(sp.Message("ping", body={})).body == {"t": 0.0}


def test_ping_without_a_time_sends_the_clock(monkeypatch):
    monkeypatch.setattr(sp.builders.time, "time", lambda: 1234.5)
    assert sp.make_ping().body == {"t": 1234.5}


def test_backend_info_lists_the_parameters_it_honours():
    assert sp.backend_info("preview", 1, "CPU", 0) == {
        "name": "preview", "ready": True, "description": "CPU", "default": False, "params": list(m.DEFAULT_PARAMS)}
    assert sp.backend_info("preview", True) == {
        "name": "preview", "ready": True, "description": "", "default": False, "params": list(m.DEFAULT_PARAMS)}
    info = sp.backend_info("trackgo", False, default=True, params=("frames", 7))
    assert (info["ready"], info["default"], info["description"], info["params"]) == (False, True, "", ["frames", "7"])


def test_welcome_carries_limits_heartbeat_and_defaults():
    limits = sp.Limits(max_frames=9)
    backends = [sp.backend_info("preview", True)]
    msg = sp.make_welcome("h1", "srv 1", backends, "preview", limits, 3)
    assert (msg.type, msg.re) == ("welcome", "h1")
    assert msg.body == {"server": "srv 1", "protocol": list(sp.PROTOCOL_VERSION), "backends": backends,
                        "default_backend": "preview", "limits": limits.to_body(), "heartbeat_interval_s": 3.0,
                        "defaults": m.DEFAULT_PARAMS}
    assert type(msg.body["heartbeat_interval_s"]) is float and msg.body["defaults"] is not m.DEFAULT_PARAMS
    assert sp.make_welcome(None, "s", [], None, limits, 1, defaults={"frames": 8}).body["defaults"] == {"frames": 8}


def test_server_stream_messages_have_the_spec_bodies():
    accepted = sp.make_accepted("r1", "j1", 2.0)
    assert (accepted.type, accepted.re, accepted.job, accepted.seq, accepted.body) == \
        ("accepted", "r1", "j1", 0, {"queue_position": 2})
    assert type(accepted.body["queue_position"]) is int
    progress = sp.make_progress("j1", 3, "denoising", 4.0, 25.0, 2)
    assert (progress.type, progress.job, progress.seq, progress.body) == \
        ("progress", "j1", 3, {"stage": "denoising", "step": 4, "total": 25, "eta_s": 2.0})
    assert [type(progress.body[k]) for k in ("step", "total", "eta_s")] == [int, int, float]
    queued = sp.make_progress("j1", 1, "queued", 0, 0, queue_position=3.0)
    assert queued.body == {"stage": "queued", "step": 0, "total": 0, "eta_s": None, "queue_position": 3}
    assert type(queued.body["queue_position"]) is int
    assert "queue_position" not in progress.body
    assert sp.make_progress("j1", 1, "queued", 0, 0, queue_position=0).body["queue_position"] == 0
    frame = sp.make_frame("j1", 4, 1.0, 5.0, b"png", 8.0, 6.0)
    assert (frame.type, frame.job, frame.seq, frame.payloads, frame.body) == \
        ("frame", "j1", 4, [b"png"], {"index": 1, "total": 5, "format": "png", "width": 8, "height": 6})
    assert all(type(frame.body[k]) is int for k in ("index", "total", "width", "height"))
    done = sp.make_done("j1", 5, {"denoise": 2, 7: "1.5"}, 42.0, {"frames": 5}, 5.0)
    assert (done.type, done.job, done.seq, done.body) == (
        "done", "j1", 5, {"timings": {"denoise": 2.0, "7": 1.5}, "seed": 42, "params": {"frames": 5}, "frames": 5})
    assert type(done.body["seed"]) is int and type(done.body["frames"]) is int
    cancelled = sp.make_cancelled("j1", 6, 3.0, re="c1")
    assert (cancelled.type, cancelled.job, cancelled.seq, cancelled.re, cancelled.body) == \
        ("cancelled", "j1", 6, "c1", {"frames_sent": 3})
    assert sp.make_cancelled("j1", 6, 0).re is None


def test_params_of_done_are_a_copy():
    params = {"frames": 5}
    done = sp.make_done("j1", 1, {}, 1, params, 5)
    done.body["params"]["frames"] = 6
    assert params == {"frames": 5}


def test_replies_have_the_spec_bodies():
    error = sp.ProtocolError("queue_full", "the queue is full", None, hint="later")
    rejected = sp.make_rejected("r2", error)
    assert (rejected.type, rejected.re, rejected.body) == ("rejected", "r2", {"error": error.to_body()})
    reply = sp.make_error(error, re="r3", job="j3", seq=4)
    assert (reply.type, reply.re, reply.job, reply.seq, reply.body) == ("error", "r3", "j3", 4, error.to_body())
    plain = sp.make_error(error)
    assert (plain.re, plain.job, plain.seq) == (None, None, None)
    jobs = [{"job": "j1", "state": "running", "queue_position": 0}]
    status = sp.make_status_reply("r4", jobs, 2.0, 1)
    assert (status.type, status.re, status.body) == ("status_reply", "r4", {"jobs": jobs, "queue_length": 2,
                                                                             "busy": True})
    assert type(status.body["queue_length"]) is int and status.body["busy"] is True


def test_plan_result_sends_only_the_sizes_it_was_given():
    tracks = [{"track": 0, "points": [[1.0, 2.0]], "positions": [[[1.0, 2.0]]]}]
    full = sp.make_plan_result("r5", tracks, 2.0, 64.0, 48.0, 256.0, 128.0, seed=7.0)
    assert (full.type, full.re) == ("plan_result", "r5")
    assert full.body == {"tracks": tracks, "frames": 2, "width": 64, "height": 48, "output_width": 256,
                         "output_height": 128, "seed": 7}
    assert all(type(v) is int for k, v in full.body.items() if k != "tracks")
    assert sp.make_plan_result("r6", [], 2, 64, 48).body == {"tracks": [], "frames": 2, "width": 64, "height": 48}
    assert sp.make_plan_result("r6", [], 2, 64, 48, seed=0).body["seed"] == 0


def test_protocol_error_carries_its_fields_and_says_them():
    error = sp.ProtocolError("too_large", "too big", "params.frames", "fewer", re="r", job="j")
    assert (error.code, error.message, error.field, error.hint, error.re, error.job) == \
        ("too_large", "too big", "params.frames", "fewer", "r", "j")
    assert str(error) == "too_large: too big (field params.frames)"
    assert str(sp.ProtocolError("busy", "later")) == "busy: later"
    assert repr(error) == "ProtocolError('too_large', 'too big', field='params.frames')"
    assert error.to_body() == {"code": "too_large", "message": "too big", "field": "params.frames", "hint": "fewer"}
    bare = sp.ProtocolError("busy", "later")
    assert (bare.field, bare.hint, bare.re, bare.job) == (None, None, None, None)


def test_is_final_needs_a_final_type_a_job_and_a_seq():
    assert sp.Message("done", job="j", seq=1).is_final
    assert not sp.Message("done", job=None, seq=1).is_final
    assert not sp.Message("done", job="j", seq=None).is_final
    assert not sp.Message("frame", job="j", seq=1).is_final


def test_new_ids_are_32_hex_characters_and_unique():
    ids = {m.new_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert sp.Message("ping").id != sp.Message("ping").id


@pytest.mark.parametrize("peer, ours, compatible, agreed", [
    ((1, 0), (1, 1), True, (1, 0)), ((1, 5), (1, 1), True, (1, 1)), (["1", "3"], (1, 4), True, (1, 3)),
    ((2, 1), (1, 1), False, None), ((0, 1), (1, 1), False, None), ((1, 1), (2, 0), False, None),
])
def test_version_rule_and_negotiation(peer, ours, compatible, agreed):
    assert sp.is_compatible(peer, ours) is compatible
    if agreed:
        assert sp.negotiated(peer, ours) == agreed
    assert sp.is_compatible(ours) is (ours[0] == sp.PROTOCOL_VERSION[0])


def test_the_default_side_of_negotiation_is_this_version():
    major, minor = sp.PROTOCOL_VERSION
    assert sp.negotiated((major, minor + 5)) == (major, minor)
    assert sp.negotiated((major, 0)) == (major, 0)
    assert sp.is_compatible((major, 99)) and not sp.is_compatible((major + 1, minor))
