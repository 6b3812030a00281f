"""The words and limits of decode / encode errors: what the peer reads is behaviour.

Each refusal names its code, its field and what was expected; every size or count limit accepts
its bound and refuses one past it; the id of a refused request is kept for the reply.
"""

import datetime
import logging
from array import array

import msgpack
import pytest

import shared_protocol as sp
from shared_protocol import codec
from shared_protocol import messages as m


def header(**overrides) -> dict:
    base = {"v": [1, 0], "type": "ping", "id": "abc", "body": {"t": 1.0}, "npayloads": 0}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def pack(head) -> bytes:
    return msgpack.packb(head, use_bin_type=True)


def refused(frames, limits=sp.Limits(), accept=None) -> sp.ProtocolError:
    with pytest.raises(sp.ProtocolError) as info:
        sp.decode(frames, limits, accept)
    return info.value


def said(error: sp.ProtocolError) -> tuple:
    return error.code, error.field, error.message


# ---- encode ------------------------------------------------------------------------------

def test_encode_writes_the_header_keys_of_the_spec():
    msg = sp.Message("frame", id="m1", body={"index": 0}, payloads=[b"a", bytearray(b"b"), memoryview(b"c")],
                     re="r1", job="j1", seq=5, v=(1, 4))
    frames = sp.encode(msg)
    assert frames[1:] == [b"a", b"b", b"c"] and all(type(f) is bytes for f in frames)
    assert msgpack.unpackb(frames[0], raw=False) == {
        "v": [1, 4], "type": "frame", "id": "m1", "body": {"index": 0}, "npayloads": 3,
        "re": "r1", "job": "j1", "seq": 5}
    # absent optional keys are left out, not sent as nil
    plain = msgpack.unpackb(sp.encode(sp.Message("status", id="s1"))[0], raw=False)
    assert set(plain) == {"v", "type", "id", "body", "npayloads"}


def test_encode_sends_tuples_as_arrays_and_bytes_as_binary():
    msg = sp.Message("ping", body={"t": 1.0, "pair": (1, 2), "visible": b"\x01\x00", "name": "n"})
    back = sp.decode(sp.encode(msg))
    assert back.body == {"t": 1.0, "pair": [1, 2], "visible": b"\x01\x00", "name": "n"}
    assert type(back.body["visible"]) is bytes and type(back.body["name"]) is str


def test_encode_refuses_dates_rather_than_sending_an_extension_type():
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    with pytest.raises(sp.ProtocolError) as info:
        sp.encode(sp.Message("ping", body={"t": when}))
    assert info.value.field == "body"


def test_encode_refusals_name_what_cannot_be_sent():
    with pytest.raises(sp.ProtocolError) as info:
        sp.encode(sp.Message("ping", body={"t": object()}))
    assert (info.value.code, info.value.field) == ("internal", "body")
    assert info.value.message.startswith("cannot encode 'ping' message: ")
    with pytest.raises(sp.ProtocolError) as info:
        sp.encode(sp.Message("ping", body={"t": 2**64}))          # too big for msgpack
    assert info.value.field == "body"
    with pytest.raises(sp.ProtocolError) as info:
        sp.encode(sp.Message("frame", job="j", seq=0, payloads=[b"ok", "not bytes"]))
    assert said(info.value) == ("internal", "payloads[1]", "payload 1 must be bytes, got str")


# ---- frames and sizes ------------------------------------------------------------------------

def test_no_frames_and_wrong_frame_types_say_what_was_expected():
    assert said(refused([])) == ("bad_message", "header", "expected at least one frame (the header), got none")
    assert said(refused(b"abc")) == ("bad_message", None, "expected a list of frames, got bytes")
    assert said(refused(42)) == ("bad_message", None, "expected a list of frames, got int")
    assert said(refused([pack(header()), 5])) == ("bad_message", "frames[1]", "frame 1 is int, expected bytes")


def test_frames_of_any_buffer_layout_are_read_as_bytes():
    head = pack(header(npayloads=1))
    words = array("H", [1, 2, 3])
    msg = sp.decode((f for f in [head, memoryview(words)]))          # any iterable, any item size
    assert msg.payloads == [words.tobytes()]
    shaped = memoryview(bytes(range(6))).cast("B", (2, 3))           # 2-D, byte items
    assert sp.decode([head, shaped]).payloads == [bytes(range(6))]


def test_message_size_limit_names_size_and_limit_and_keeps_the_id():
    head = pack(header(id="big-1", job="job-1", npayloads=1))
    limits = sp.Limits(max_message_bytes=len(head) + 10)
    assert sp.decode([head, b"x" * 10], limits).payloads == [b"x" * 10]
    error = refused([head, b"x" * 11], limits)
    assert said(error) == ("too_large", None, f"message is {len(head) + 11} bytes, the limit is {len(head) + 10}")
    assert error.re == "big-1"


def test_payload_count_limit_is_exact_and_keeps_the_id():
    limits = sp.Limits(max_payloads=2)
    assert len(sp.decode([pack(header(npayloads=2)), b"a", b"b"], limits).payloads) == 2
    error = refused([pack(header(id="many", npayloads=3)), b"a", b"b", b"c"], limits)
    assert said(error) == ("too_large", "header.npayloads", "message has 3 payload frames, the limit is 2")
    assert error.re == "many"


def test_a_refused_message_whose_header_is_unreadable_has_no_id():
    error = refused([b"\xc1", b"x" * 100], sp.Limits(max_message_bytes=50))
    assert error.code == "too_large" and error.re is None
    head = pack(header(id="x" * 65, npayloads=1))                    # readable, but the id is not valid
    assert refused([head, b"x" * 100], sp.Limits(max_message_bytes=50)).re is None
    big = pack(header(id="r1", body={"t": 1.0, "pad": "p" * 100}))   # the header alone is over its limit
    assert refused([big, b"x" * 100], sp.Limits(max_message_bytes=150, max_header_bytes=100)).re is None


def test_header_size_limit_is_exact():
    head = pack(header())
    assert sp.decode([head], sp.Limits(max_header_bytes=len(head))).type == "ping"
    error = refused([head], sp.Limits(max_header_bytes=len(head) - 1))
    assert said(error) == ("too_large", "header", f"header is {len(head)} bytes, the limit is {len(head) - 1}")


@pytest.mark.parametrize("frame, message", [
    (b"", "header frame is empty, expected a msgpack map"),
    (pack(header())[:-2], "header frame is truncated msgpack"),
    (pack(header()) + b"\x00\x00", "header frame has 2 bytes after the msgpack map"),
    (msgpack.packb([1]), "header must be a msgpack map, got an array"),
    (msgpack.packb("hi"), "header must be a msgpack map, got a string"),
    (msgpack.packb(7), "header must be a msgpack map, got an integer"),
    (msgpack.packb(None), "header must be a msgpack map, got nil"),
    (msgpack.packb(1.5), "header must be a msgpack map, got a float"),
    (msgpack.packb(True), "header must be a msgpack map, got a boolean"),
    (msgpack.packb(b"b", use_bin_type=True), "header must be a msgpack map, got binary"),
    (b"\x82\xa1v\x01\xa1v\x02", "header frame is not valid msgpack: duplicate key in map"),
    (msgpack.packb({"a": {b"k": 1}}, use_bin_type=True), "header frame is not valid msgpack: map keys must be strings"),
])
def test_unreadable_headers_say_why(frame, message):
    assert said(refused([frame])) == ("bad_message", "header", message)


def test_integer_keys_are_refused_with_msgpacks_reason():
    frame = msgpack.packb({"v": [1, 0], 5: "x"}, strict_types=False)
    with pytest.raises(ValueError) as reason:
        msgpack.unpackb(frame, raw=False, strict_map_key=True)
    assert said(refused([frame])) == ("bad_message", "header", f"header frame is not valid msgpack: {reason.value}")


@pytest.mark.parametrize("data", [b"a", b"ab", b"abcd"])
def test_extension_types_of_any_size_are_refused(data):
    frame = pack(header(body={"t": 1.0, "x": msgpack.ExtType(5, data)}))
    assert refused([frame]).code == "bad_message"


def test_header_lengths_are_bounded_by_the_header_itself():
    # a string as long as the whole frame allows is read; nothing longer can be claimed
    text = "s" * 300
    msg = sp.decode([pack(header(body={"t": 1.0, "note": text}))])
    assert msg.body["note"] == text
    items = list(range(300))
    assert sp.decode([pack(header(body={"t": 1.0, "list": items}))]).body["list"] == items
    blob = bytes(300)
    assert sp.decode([pack(header(body={"t": 1.0, "blob": blob}))]).body["blob"] == blob
    wide = {f"k{i}": i for i in range(100)}
    assert sp.decode([pack(header(body={"t": 1.0, **wide}))]).body["k99"] == 99


# ---- header fields -----------------------------------------------------------------------------

@pytest.mark.parametrize("version", [[0, 0], [1, 0], [1, 2**32 - 1]])
def test_version_parts_up_to_2_pow_32_minus_1_are_read(version):
    head = header(v=version)
    if version[0] != 1:
        assert refused([pack(head)]).code == "unsupported_version"
    else:
        assert sp.decode([pack(head)]).v == tuple(version)


@pytest.mark.parametrize("version, shown", [
    ([1, 2**32], "an array of 2 items"), ([1, -1], "an array of 2 items"), ([1, 0, 0], "an array of 3 items"),
    ((1, 0.5), "an array of 2 items"), ([True, 0], "an array of 2 items"), ("1.0", "a string '1.0'"),
    (..., "nil None"),
])
def test_bad_versions_say_what_was_expected(version, shown):
    error = refused([pack(header(v=version))])
    assert said(error) == ("bad_message", "header.v",
                           f"expected [major, minor] as two non-negative integers, got {shown}")


def test_the_refusal_names_this_sides_version_whatever_it_is(monkeypatch):
    monkeypatch.setattr(codec, "PROTOCOL_VERSION", (1, 7))
    error = refused([pack(header(v=[4, 2]))])
    assert error.message == "protocol major version 4 is not supported; this side speaks 1.7"
    assert error.hint == "use protocol 1.x"


def test_another_major_is_refused_with_both_versions_and_a_hint():
    error = refused([pack(header(v=[3, 1]))])
    major, minor = sp.PROTOCOL_VERSION
    assert said(error) == ("unsupported_version", "header.v",
                           f"protocol major version 3 is not supported; this side speaks {major}.{minor}")
    assert error.hint == f"use protocol {major}.x"


def test_type_errors_name_the_type():
    assert said(refused([pack(header(type=3))])) == ("bad_message", "header.type", "expected a string, got an integer 3")
    long_name = "t" * 100
    error = refused([pack(header(type=long_name))])
    assert said(error) == ("unknown_type", "header.type", f"unknown message type {'t' * 64!r}")


def test_accept_refuses_types_from_the_wrong_side_before_their_body():
    welcome = sp.make_welcome("r", "srv", [], None, sp.Limits(), 2.0)
    error = refused(sp.encode(welcome), accept=m.CLIENT_TYPES)
    assert said(error) == ("bad_message", "header.type",
                           "a 'welcome' message is not accepted from this side (expected one of cancel, hello, "
                           "ping, plan, pong, status, submit)")
    assert error.re == welcome.id
    # the body is not looked at: a broken one is still refused for its type
    assert refused([pack(header(type="done", job="j", seq=1, body={}))], accept=frozenset({"ping"})).field == \
        "header.type"
    assert sp.decode(sp.encode(sp.make_ping(1.0)), accept=m.CLIENT_TYPES).type == "ping"


@pytest.mark.parametrize("key", ["id", "re", "job"])
def test_ids_of_1_and_64_characters_are_read(key):
    for value in ("x", "y" * m.MAX_ID_LENGTH):
        head = header(**{key: value})
        if key == "job":
            head.update(type="cancel", body={})
        assert getattr(sp.decode([pack(head)]), key) == value


@pytest.mark.parametrize("value, shown", [
    ("", "a string ''"), ("z" * 65, "a string '" + "z" * 59 + "..."), (5, "an integer 5"),
    ([1], "an array of 1 items"), (b"id", "binary b'id'"),
])
def test_bad_ids_say_what_was_expected(value, shown):
    error = refused([pack(header(re=value))])
    assert said(error) == ("bad_message", "header.re", f"expected a string of 1..64 characters, got {shown}")
    assert said(refused([pack(header(id=value))]))[1:] == ("header.id", error.message)
    assert refused([pack(header(id=...))]).message == "expected a string of 1..64 characters, got nil None"


def test_seq_may_be_any_integer_up_to_2_pow_63_minus_1():
    for seq in (0, 2**63 - 1):
        head = header(type="error", job="j", seq=seq, body={"code": "internal", "message": "x"})
        assert sp.decode([pack(head)]).seq == seq
    for seq, shown in ((2**63, "an integer 9223372036854775808"), (-1, "an integer -1"), (1.0, "a float 1.0"),
                       (False, "a boolean False")):
        error = refused([pack(header(job="j", seq=seq))])
        assert said(error) == ("bad_message", "header.seq", f"expected an integer 0..2**63-1 or nil, got {shown}")


def test_body_and_npayloads_errors_name_what_came():
    assert said(refused([pack(header(body="x"))])) == ("bad_message", "header.body", "expected a map, got a string 'x'")
    assert said(refused([pack(header(npayloads=...))])) == (
        "bad_message", "header.npayloads", "expected an integer, got nil None")
    assert said(refused([pack(header(npayloads=True))]))[2] == "expected an integer, got a boolean True"
    assert said(refused([pack(header(npayloads=2)), b"p"])) == (
        "bad_message", "header.npayloads", "header announces 2 payload frames, 1 followed")


def test_stream_header_rules_say_what_is_missing():
    assert said(refused([pack(header(type="error", seq=1, body={"code": "x", "message": "y"}))])) == (
        "bad_message", "header.job", "a sequence number needs a job id (seq numbers a job's stream)")
    assert said(refused([pack(header(type="cancelled", seq=1, body={"frames_sent": 0}))]))[1] == "header.job"
    assert said(refused([pack(header(type="accepted", body={"queue_position": 0}))])) == (
        "bad_message", "header.job", "a 'accepted' message needs a job id")
    assert said(refused([pack(header(type="done", job="j", body={}))])) == (
        "bad_message", "header.seq", "a 'done' message needs a sequence number")
    frame = header(type="frame", job="j", seq=1, npayloads=2,
                   body={"index": 0, "total": 1, "format": "png", "width": 1, "height": 1})
    assert said(refused([pack(frame), b"a", b"b"])) == (
        "bad_message", "header.npayloads", "a 'frame' message carries 1 payload frames, got 2")
    # a cancel needs a job but no seq; it carries no payloads
    assert sp.decode([pack(header(type="cancel", job="j", body={}))]).job == "j"
    assert refused([pack(header(type="cancel", job="j", body={}, npayloads=1)), b"x"]).field == "header.npayloads"


def test_a_decoded_message_carries_every_header_field():
    head = header(type="progress", id="p9", re="r9", job="j9", seq=4, v=[1, 5],
                  body={"stage": "queued", "step": 0, "total": 0})
    msg = sp.decode([pack(head)])
    assert (msg.type, msg.id, msg.re, msg.job, msg.seq, msg.v, msg.payloads) == \
        ("progress", "p9", "r9", "j9", 4, (1, 5), [])
    assert msg.body == {"stage": "queued", "step": 0, "total": 0}


def test_errors_after_the_header_is_read_carry_its_ids():
    error = refused([pack(header(id="q1", job="j1", body={"t": "late"}))])
    assert (error.field, error.re, error.job) == ("t", "q1", "j1")
    error = refused([pack(header(id="q2", job=5))])           # an invalid job id is not copied
    assert (error.field, error.re, error.job) == ("header.job", "q2", None)


def test_an_error_that_already_names_its_request_keeps_it(monkeypatch):
    def check(*args):
        raise sp.ProtocolError("invalid_field", "x", "f", re="own-re", job="own-job")

    monkeypatch.setattr(codec, "_check_header", check)
    error = refused([pack(header(id="q3", job="j3"))])
    assert (error.re, error.job) == ("own-re", "own-job")


def test_a_bug_inside_decode_reaches_the_peer_as_internal_without_internals(monkeypatch, caplog):
    def broken(*args):
        raise KeyError("secret internals")

    monkeypatch.setattr(codec, "_check_header", broken)
    with caplog.at_level(logging.ERROR, logger="trackgo.protocol"):
        error = refused([pack(header())])
    assert said(error) == ("internal", None, "the receiver failed to decode this message (a bug on its side)")
    assert error.hint == "the receiver's log has details" and "secret" not in str(error)
    assert error.__cause__ is None and error.__suppress_context__
    assert [r.getMessage() for r in caplog.records] == ["decode failed unexpectedly"]
    assert "secret internals" in caplog.text                  # the traceback stays in the log


# ---- bodies ---------------------------------------------------------------------------------------

def test_missing_and_mistyped_body_fields_say_what_was_expected():
    assert said(refused([pack(header(body={}))])) == ("invalid_field", "t", "missing field 't' in a 'ping' message")
    assert said(refused([pack(header(body={"t": "now"}))])) == (
        "invalid_field", "t", "expected an integer or a finite number, got a string 'now'")
    assert said(refused([pack(header(body={"t": float("inf")}))]))[2] == \
        "expected an integer or a finite number, got a float inf"
    progress = header(type="progress", job="j", seq=0, body={"stage": "queued", "step": 0, "total": 0,
                                                              "queue_position": "1"})
    assert said(refused([pack(progress)])) == ("invalid_field", "queue_position",
                                               "expected an integer or nil, got a string '1'")
    status = header(type="status_reply", body={"jobs": {}, "queue_length": 0, "busy": False})
    assert said(refused([pack(status)]))[1:] == ("jobs", "expected an array, got a map of 0 items")
    done = header(type="done", job="j", seq=1, body={"timings": [], "seed": 1, "params": {}, "frames": 1})
    assert said(refused([pack(done)]))[1:] == ("timings", "expected a map, got an array of 0 items")
    welcome = sp.make_welcome("r", "srv", [], None, sp.Limits(), 2.0).body
    assert sp.decode([pack(header(type="welcome", body=welcome))]).body["default_backend"] is None
    welcome["default_backend"] = 3
    assert said(refused([pack(header(type="welcome", body=welcome))]))[1:] == (
        "default_backend", "expected a string or nil, got an integer 3")
    hello = header(type="hello", body={"client": "c", "protocol": b"1"})
    assert said(refused([pack(hello)]))[1:] == ("protocol", "expected an array, got binary b'1'")
    status = header(type="status_reply", body={"jobs": [], "queue_length": 0, "busy": 1})
    assert said(refused([pack(status)]))[2] == "expected a boolean, got an integer 1"


def test_optional_body_fields_may_be_absent_and_finite_floats_pass():
    progress = header(type="progress", job="j", seq=0, body={"stage": "queued", "step": 0, "total": 0,
                                                              "eta_s": 1.5})
    assert sp.decode([pack(progress)]).body["eta_s"] == 1.5
    assert sp.decode([pack(header(body={"t": 3}))]).body == {"t": 3}


def test_long_values_are_cut_in_messages():
    text = "w" * 61
    assert refused([pack(header(body={"t": text}))]).message.endswith("got a string '" + "w" * 59 + "...")
    fits = "w" * 58                               # its repr is exactly 60 characters
    assert refused([pack(header(body={"t": fits}))]).message.endswith(f"got a string '{fits}'")
    one_more = "w" * 59                           # 61
    assert refused([pack(header(body={"t": one_more}))]).message.endswith("got a string '" + "w" * 59 + "...")


def test_nesting_limit_is_exact_and_names_the_path():
    def nested(depth):
        value = 0
        for _ in range(depth):
            value = [value]
        return value

    deep_ok = header(body={"t": 1.0, "x": nested(codec.MAX_NESTING - 1)})
    assert sp.decode([pack(deep_ok)]).body["x"] == nested(codec.MAX_NESTING - 1)
    error = refused([pack(header(body={"t": 1.0, "x": nested(codec.MAX_NESTING)}))])
    assert said(error) == ("invalid_field", "x" + "[0]" * (codec.MAX_NESTING - 1),
                           "maps and arrays nest more than 32 levels deep here; expected at most 32")
    mixed = {"a": [{"b": nested(codec.MAX_NESTING - 2)}]}
    assert refused([pack(header(body={"t": 1.0, "m": mixed}))]).field == "m.a[0].b" + "[0]" * (codec.MAX_NESTING - 4)
    assert refused([pack(header(body={"t": 1.0, "Xtra": {"X": nested(codec.MAX_NESTING - 1)}}))]).field == \
        "Xtra.X" + "[0]" * (codec.MAX_NESTING - 2)
    # scalars beside a deep branch do not count; siblings are all searched
    wide = {"t": 1.0, "flat": [1, 2, {"k": "v"}], "deep": {"in": nested(codec.MAX_NESTING)}}
    assert refused([pack(header(body=wide))]).field.startswith("deep.in[0]")


def test_body_keys_must_be_strings():
    frame = msgpack.packb(header(body={"t": 1.0, 3: "x"}), strict_types=False)
    assert said(refused([frame]))[0] == "bad_message"


def test_valid_id_takes_strings_of_1_to_64_characters_only():
    assert codec.valid_id("a") == "a" and codec.valid_id("b" * 64) == "b" * 64
    assert [codec.valid_id(v) for v in ("", "c" * 65, 5, None, b"id")] == [None] * 5
