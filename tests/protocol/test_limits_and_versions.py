"""Limits are enforced before unpacking; version rules: other majors rejected, newer minors tolerated."""

import tracemalloc

import msgpack
import pytest

import shared_protocol as sp
from shared_protocol import codec


def ping_header(**overrides) -> dict:
    head = {"v": [1, 0], "type": "ping", "id": "p1", "body": {"t": 1.0}, "npayloads": 0}
    head.update(overrides)
    return head


def test_oversized_message_is_rejected_before_any_payload_is_read(monkeypatch):
    # Only the (size-checked) header is read, to put the request's id in the reply's `re`.
    sizes = []
    real = codec.msgpack.Unpacker

    def recording(*args, **kwargs):
        sizes.append(kwargs["max_buffer_size"])
        return real(*args, **kwargs)

    monkeypatch.setattr(codec.msgpack, "Unpacker", recording)
    limits = sp.Limits(max_message_bytes=1000)
    header = msgpack.packb(ping_header(npayloads=1))
    with pytest.raises(sp.ProtocolError) as info:
        sp.decode([header, bytes(1000)], limits)
    assert info.value.code == "too_large" and "1000" in info.value.message
    assert info.value.re == "p1" and sizes == [len(header)]


def test_oversized_header_is_rejected_before_unpacking(monkeypatch):
    monkeypatch.setattr(codec.msgpack, "Unpacker", None)
    header = msgpack.packb(ping_header(body={"t": 1.0, "pad": "x" * 2000}))
    with pytest.raises(sp.ProtocolError) as info:
        sp.decode([header], sp.Limits(max_header_bytes=1024))
    assert (info.value.code, info.value.field) == ("too_large", "header")


def test_too_many_payload_frames_is_too_large():
    frames = [msgpack.packb(ping_header(npayloads=17))] + [b"x"] * 17
    with pytest.raises(sp.ProtocolError) as info:
        sp.decode(frames, sp.Limits(max_payloads=16))
    assert (info.value.code, info.value.field) == ("too_large", "header.npayloads")


@pytest.mark.parametrize("header", [
    b"\xdd\xff\xff\xff\xff",            # array32 claiming 4 billion items
    b"\xdf\xff\xff\xff\xff",            # map32 claiming 4 billion pairs
    b"\xdb\xff\xff\xff\xff" + b"a" * 8,  # str32 claiming 4 GiB
    b"\xc6\x7f\xff\xff\xff",            # bin32 claiming 2 GiB
    b"\x91" * 200_000,                  # 200 000 nested arrays
    b"\x81\xa1v" * 100_000 + b"\xc0",   # 100 000 nested maps
], ids=["array32", "map32", "str32", "bin32", "deep-arrays", "deep-maps"])
def test_lying_or_hostile_headers_fail_fast_with_bad_message(header):
    # "Fast" measured in what the claim would cost, not in seconds: nothing near the claimed size
    # (gigabytes, or one object per byte of a deep nest) is ever allocated.
    tracemalloc.start()
    try:
        with pytest.raises(sp.ProtocolError) as info:
            sp.decode([header])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.code == "bad_message"
    assert peak < 8 * 1024 * 1024, f"decoding allocated {peak} bytes"


def test_message_at_exactly_the_limit_is_accepted():
    payload = b"p" * 100
    head = msgpack.packb(ping_header(npayloads=1))
    limits = sp.Limits(max_message_bytes=len(head) + len(payload), max_header_bytes=len(head))
    assert sp.decode([head, payload], limits).payloads == [payload]
    with pytest.raises(sp.ProtocolError):
        sp.decode([head, payload + b"!"], limits)


def test_limits_round_trip_through_welcome_and_ignore_junk():
    limits = sp.Limits(max_frames=14, max_width=1024, max_height=576, max_pixels=1024 * 576, max_queue=3)
    welcome = sp.decode(sp.encode(sp.make_welcome("r", "srv", [], None, limits, 5.0)))
    assert sp.Limits.from_body(welcome.body["limits"]) == limits
    noisy = dict(welcome.body["limits"], max_frames="many", max_tracks=-1, max_future=9, max_queue=True)
    assert sp.Limits.from_body(noisy) == sp.Limits(max_width=1024, max_height=576, max_pixels=1024 * 576)
    assert sp.Limits.from_body(None) == sp.Limits()
    announced = {"max_frames", "max_width", "max_height", "max_pixels", "max_tracks", "max_message_bytes",
                 "max_queue"}
    assert announced <= set(welcome.body["limits"])


def test_another_major_version_is_rejected_clearly():
    for version in ([2, 0], [0, 9]):
        with pytest.raises(sp.ProtocolError) as info:
            sp.decode([msgpack.packb(ping_header(v=version, type="a-type-of-the-future", id="h1"))])
        assert (info.value.code, info.value.field, info.value.re) == ("unsupported_version", "header.v", "h1")
        ours = ".".join(map(str, sp.PROTOCOL_VERSION))
        assert str(version[0]) in info.value.message and ours in info.value.message


def test_newer_minor_unknown_header_and_body_fields_are_ignored():
    head = ping_header(v=[1, 7], trace="abc", priority=5, body={"t": 2.5, "clock": "tai", "nested": {"x": [1]}})
    msg = sp.decode([msgpack.packb(head)])
    assert (msg.type, msg.v, msg.body["t"]) == ("ping", (1, 7), 2.5)
    welcome = sp.encode(sp.make_welcome("r", "srv", [sp.backend_info("preview", True)], "preview", sp.Limits(), 2.0))
    header = msgpack.unpackb(welcome[0], raw=False)
    header["v"] = [1, 3]
    header["body"]["models"] = [{"name": "svd-xt"}]
    header["body"]["limits"]["max_seconds"] = 30
    back = sp.decode([msgpack.packb(header)])
    assert back.body["default_backend"] == "preview" and back.v == (1, 3)


def test_compatibility_and_negotiation():
    assert sp.is_compatible((1, 0)) and sp.is_compatible([1, 9])
    assert not sp.is_compatible((2, 0)) and not sp.is_compatible((0, 1))
    assert sp.negotiated((1, 4), ours=(1, 2)) == (1, 2)
    assert sp.negotiated((1, 1), ours=(1, 2)) == (1, 1)
    assert sp.PROTOCOL_VERSION == (1, 1)


def test_limits_from_body_keeps_only_positive_integers():
    assert sp.Limits.from_body({"max_frames": 1}).max_frames == 1          # the smallest positive value
    assert sp.Limits.from_body({"max_frames": 0}).max_frames == sp.Limits().max_frames
    assert sp.Limits.from_body({"max_frames": 14.0}).max_frames == sp.Limits().max_frames
    assert sp.Limits.from_body([("max_frames", 3)]) == sp.Limits()         # not a map: all defaults
    every = {f: 7 for f in sp.Limits().to_body()}
    assert sp.Limits.from_body(every).to_body() == every                   # every limit is read back


def test_limits_defaults_are_the_documented_ones():
    assert sp.Limits().to_body() == {
        "max_frames": 64, "max_width": 2048, "max_height": 2048, "max_pixels": 1024 * 1024, "max_tracks": 6,
        "max_message_bytes": 64 * 1024 * 1024, "max_queue": 32, "max_header_bytes": 1024 * 1024,
        "max_payloads": 16, "max_reference_pixels": 4096 * 4096, "max_points": 4096, "max_polygons": 64,
        "max_track_points": 1024}


@pytest.mark.parametrize("interval, lost_after", [(0.1, 2.0), (0.5, 2.0), (2.0 / 3, 2.0), (1.0, 3.0), (2.5, 7.5)])
def test_server_is_lost_after_three_intervals_and_never_under_two_seconds(interval, lost_after):
    assert sp.server_lost_after(interval) == pytest.approx(lost_after)


def test_server_lost_after_reads_numbers_given_as_text_or_integers():
    assert sp.server_lost_after(4) == 12.0 and sp.server_lost_after("1.5") == 4.5
