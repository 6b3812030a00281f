"""Frames <-> Message: round trips of every message type and the header rules of decode."""

import msgpack
import pytest

import shared_protocol as sp
from shared_protocol import messages as m

from .conftest import solid_png


def all_messages(valid_job) -> list[sp.Message]:
    body, payloads = valid_job
    reference = sp.png_image(solid_png(64, 48))
    job = sp.new_id()
    error = sp.ProtocolError("invalid_field", "expected at most 64 frames, got 99", "params.frames", hint="fewer")
    plan_tracks = [{"track": 0, "points": [[1.0, 2.0], [3.5, 4.0]],
                    "positions": [[[1.0, 2.0], [3.5, 4.0]], [[2.0, 3.0], [4.5, 5.0]]]}]
    return [
        sp.make_hello("blender-4.2/trackgo 0.1"),
        sp.make_welcome("req1", "trackgo-server 0.1", [sp.backend_info("preview", True, "CPU warp", True),
                                                     sp.backend_info("trackgo", False, "SVD-XT + TrackAdapter")],
                        "preview", sp.Limits(), 2.5),
        sp.Message(m.SUBMIT, body=body, payloads=payloads),
        sp.make_submit(reference, [sp.track([[[0, 0], [9, 0], [9, 9]]], [[1, 1], [5, 5]])]),
        sp.make_accepted("req2", job, 3),
        sp.make_rejected("req3", error),
        sp.make_progress(job, 1, "queued", 0, 0, None, queue_position=2),
        sp.make_progress(job, 2, "denoising", 5, 25, 12.5),
        sp.make_frame(job, 3, 0, 25, solid_png(8, 8), 8, 8),
        sp.make_done(job, 4, {"denoise": 10.25, "decode": 1.5}, 42, {"frames": 25, "seed": 42}, 25),
        sp.make_error(error, job=job, seq=5),
        sp.make_error(sp.ProtocolError("bad_message", "not msgpack"), re="req4"),
        sp.make_cancel(job),
        sp.make_cancelled(job, 6, 3),
        sp.make_status(),
        sp.make_status_reply("req5", [{"job": job, "state": "running", "queue_position": 0}], 1, True),
        sp.make_ping(123.5),
        sp.make_pong(sp.make_ping(99.0)),
        sp.make_plan(reference, [sp.track([[[0, 0], [9, 0], [9, 9]]], [[1, 1], [5, 5]])], {"frames": 8}),
        sp.make_plan_result("req6", plan_tracks, 2, 64, 48, 256, 128, seed=7),
    ]


def test_every_message_type_round_trips_with_its_payloads(valid_job):
    messages = all_messages(valid_job)
    assert {msg.type for msg in messages} == set(m.MESSAGE_TYPES)
    for msg in messages:
        frames = sp.encode(msg)
        assert all(isinstance(frame, bytes) for frame in frames)
        assert len(frames) == 1 + len(msg.payloads)
        back = sp.decode(frames)
        assert back == msg, msg.type


def test_payloads_travel_as_separate_frames_not_inside_the_header(valid_job):
    body, payloads = valid_job
    frames = sp.encode(sp.Message(m.SUBMIT, body=body, payloads=payloads))
    assert frames[1:] == payloads
    header = msgpack.unpackb(frames[0], raw=False)
    assert header["npayloads"] == len(payloads)
    assert all(payload not in frames[0] for payload in payloads)


def test_decode_accepts_memoryviews_and_bytearrays(valid_job):
    msg = sp.Message(m.SUBMIT, body=valid_job[0], payloads=valid_job[1])
    frames = sp.encode(msg)
    assert sp.decode([memoryview(frames[0])] + [bytearray(f) for f in frames[1:]]) == msg


def header(**overrides) -> dict:
    base = {"v": [1, 0], "type": "ping", "id": "abc", "body": {"t": 1.0}, "npayloads": 0}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def decode_header(head: dict, payloads=()) -> sp.Message:
    return sp.decode([msgpack.packb(head, use_bin_type=True), *payloads])


@pytest.mark.parametrize("head, field", [
    (header(v=...), "header.v"),
    (header(v=[1]), "header.v"),
    (header(v=["1", 0]), "header.v"),
    (header(v=[1, -1]), "header.v"),
    (header(type=3), "header.type"),
    (header(type=...), "header.type"),
    (header(id=...), "header.id"),
    (header(id=""), "header.id"),
    (header(id="x" * 65), "header.id"),
    (header(id=5), "header.id"),
    (header(re=7), "header.re"),
    (header(job=b"bytes"), "header.job"),
    (header(seq=-1), "header.seq"),
    (header(seq=1.5), "header.seq"),
    (header(seq=True), "header.seq"),
    (header(body=[1, 2]), "header.body"),
    (header(npayloads=...), "header.npayloads"),
    (header(npayloads=1), "header.npayloads"),
    (header(npayloads="0"), "header.npayloads"),
    (header(type="progress", job="j", body={"stage": "queued", "step": 0, "total": 0}), "header.seq"),
    (header(type="frame", job="j", seq=1, body={"index": 0, "total": 1, "format": "png", "width": 1,
                                                 "height": 1}), "header.npayloads"),
    (header(type="cancel", body={}), "header.job"),
])
def test_bad_headers_are_bad_message_with_the_field(head, field):
    with pytest.raises(sp.ProtocolError) as info:
        decode_header(head)
    assert (info.value.code, info.value.field) == ("bad_message", field)


def test_error_from_decode_keeps_the_message_id_for_the_reply():
    with pytest.raises(sp.ProtocolError) as info:
        decode_header(header(id="req-9", job="job-3", npayloads=2))
    assert (info.value.re, info.value.job) == ("req-9", "job-3")
    reply = sp.make_error(info.value, re=info.value.re)
    assert sp.decode(sp.encode(reply)).body["field"] == "header.npayloads"


@pytest.mark.parametrize("head, field", [
    (header(body={}), "t"),
    (header(body={"t": "now"}), "t"),
    (header(body={"t": float("nan")}), "t"),
    (header(type="hello", body={"client": 1, "protocol": [1, 0]}), "client"),
    (header(type="progress", job="j", seq=0, body={"stage": "queued", "step": 0}), "total"),
    (header(type="progress", job="j", seq=0, body={"stage": "queued", "step": 0, "total": 1, "eta_s": "soon"}),
     "eta_s"),
    (header(type="status_reply", body={"jobs": [], "queue_length": 0, "busy": 1}), "busy"),
    (header(type="done", job="j", seq=3, body={"timings": {}, "seed": 1.0, "params": {}, "frames": 2}), "seed"),
])
def test_bad_bodies_are_invalid_field_with_the_field(head, field):
    with pytest.raises(sp.ProtocolError) as info:
        decode_header(head)
    assert (info.value.code, info.value.field) == ("invalid_field", field)


@pytest.mark.parametrize("frames, what", [
    ([], "no frames"),
    ([b""], "empty header"),
    ([b"\xc1"], "reserved msgpack byte"),
    ([msgpack.packb([1, 2])], "array header"),
    ([msgpack.packb("text")], "string header"),
    ([msgpack.packb({1: "a"}, strict_types=False)], "integer key"),
    ([msgpack.packb(header())[:-3]], "truncated"),
    ([msgpack.packb(header()) + b"\x00"], "trailing byte"),
    ([msgpack.packb(header()) + msgpack.packb(header())], "two maps"),
    ([b"\x82\xa1v\x01\xa1v\x02"], "duplicate key"),
    ([msgpack.packb(header(body={"t": 1.0, "x": msgpack.ExtType(5, b"abc")}))], "ext type"),
    ([msgpack.packb(header(body={"t": 1.0, 7: "int key"}), strict_types=False)], "int key in body"),
    ([msgpack.packb(header(body={"t": 1.0, "x": {b"bin": 1}}), use_bin_type=True)], "binary key, nested"),
    ("not frames", "a str"),
    ([msgpack.packb(header()), 5], "a non-bytes frame"),
])
def test_malformed_frames_are_bad_message(frames, what):
    with pytest.raises(sp.ProtocolError) as info:
        sp.decode(frames)
    assert info.value.code == "bad_message", what


@pytest.mark.parametrize("body", [..., None])
def test_absent_or_nil_body_is_an_empty_body(body):
    # protocol.md: "body" is optional (default {}), and an optional field may be absent or nil.
    msg = decode_header(header(type="status", body=body))
    assert msg.type == "status" and msg.body == {}


def test_unknown_type_is_reported_as_such():
    with pytest.raises(sp.ProtocolError) as info:
        decode_header(header(type="teleport"))
    assert (info.value.code, info.value.field) == ("unknown_type", "header.type")


def test_encode_refuses_unencodable_bodies_and_payloads():
    with pytest.raises(sp.ProtocolError):
        sp.encode(sp.Message("ping", body={"t": object()}))
    with pytest.raises(sp.ProtocolError):
        sp.encode(sp.Message("frame", job="j", seq=0, payloads=["not bytes"]))


def test_error_to_body_round_trips_as_an_error_message():
    error = sp.ProtocolError("too_large", "message is 9 bytes, the limit is 8", None, hint="send less")
    back = sp.decode(sp.encode(sp.make_error(error, re="r")))
    assert back.body == {"code": "too_large", "message": "message is 9 bytes, the limit is 8", "field": None,
                         "hint": "send less"}
    assert back.re == "r" and back.job is None and back.seq is None


def test_seq_without_job_is_bad_message():
    with pytest.raises(sp.ProtocolError) as info:
        decode_header(header(type="error", seq=3, body={"code": "internal", "message": "x"}))
    assert (info.value.code, info.value.field) == ("bad_message", "header.job")


def test_is_final_only_for_stream_messages():
    error = sp.ProtocolError("unknown_job", "no job 'j9'")
    assert sp.make_error(error, job="j1", seq=4).is_final
    assert not sp.make_error(error, re="c1", job="j9").is_final      # answers a cancel, ends nothing
    assert sp.make_cancelled("j1", 3, 0).is_final and sp.make_done("j1", 2, {}, 1, {}, 2).is_final
    assert not sp.make_progress("j1", 1, "queued", 0, 0).is_final
