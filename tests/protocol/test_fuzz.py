"""Property tests: whatever bytes arrive, decode / validate_job return a value or raise ProtocolError;
what is accepted says what was sent (and is within every range), what certainly breaks a rule is refused.

`internal` is the code of the safety net around both functions (an unexpected exception inside
them); it must never be reached, so these tests also fail on it.
"""

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shared_protocol as sp
from shared_protocol.messages import DEFAULT_PARAMS, JOB_BODY_TYPES, PARAM_RANGES

from .conftest import make_valid_job
from .test_codec import all_messages

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SAMPLES = [sp.encode(msg) for msg in all_messages(make_valid_job())]
SMALL_LIMITS = sp.Limits(max_message_bytes=64 * 1024, max_header_bytes=8 * 1024)


def receive(frames, limits=sp.Limits()):
    """What a receiver does: decode, then check the job of submit / plan. Returns the outcome."""
    try:
        msg = sp.decode(frames, limits)
    except sp.ProtocolError as error:
        assert error.code != "internal", error.message
        assert error.code in sp.ERROR_CODES
        return error
    assert isinstance(msg, sp.Message)
    if msg.type in JOB_BODY_TYPES:
        outcome = check_job(msg.body, msg.payloads, limits)
        if isinstance(outcome, sp.Job):
            agrees(outcome, msg.body, msg.payloads)
        return outcome
    return msg


def check_job(body, payloads, limits=sp.Limits()):
    try:
        job = sp.validate_job(body, payloads, limits)
    except sp.ProtocolError as error:
        assert error.code in ("invalid_field", "too_large"), (error.code, error.message)
        assert error.field is None or isinstance(error.field, str)
        return error
    assert isinstance(job, sp.Job)
    return job


@SETTINGS
@given(st.binary(max_size=4096))
def test_random_header_bytes(data):
    receive([data])


@SETTINGS
@given(st.lists(st.binary(max_size=512), max_size=6))
def test_random_frame_lists(frames):
    receive(frames, SMALL_LIMITS)


mutation = st.tuples(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]),
                     st.integers(0, 2**31), st.integers(0, 255), st.binary(min_size=1, max_size=8))


def mutate(data: bytes, how, position, value, extra) -> bytes:
    if not data:
        return extra
    at = position % len(data)
    if how == "flip":
        return data[:at] + bytes([data[at] ^ (1 << (value % 8))]) + data[at + 1:]
    if how == "set":
        return data[:at] + bytes([value]) + data[at + 1:]
    if how == "truncate":
        return data[:at]
    if how == "insert":
        return data[:at] + extra + data[at:]
    return data[:at] + data[at + 1 + value % 16:]


@SETTINGS
@given(st.sampled_from(range(len(SAMPLES))), st.integers(0, 10), st.lists(mutation, min_size=1, max_size=4))
def test_mutated_valid_messages(sample, frame_choice, mutations):
    frames = list(SAMPLES[sample])
    index = frame_choice % len(frames)
    for how, position, value, extra in mutations:
        frames[index] = mutate(frames[index], how, position, value, extra)
    receive(frames)


msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=12)
    | st.binary(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def paths(value, prefix=()):
    """Every path into nested maps / arrays, the root included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, prefix + (index,))


def replaced(tree, path, new):
    if not path:
        return new
    copy = dict(tree) if isinstance(tree, dict) else list(tree)
    copy[path[0]] = replaced(tree[path[0]], path[1:], new)
    return copy


JOB_BODY, JOB_PAYLOADS = make_valid_job()
JOB_PATHS = list(paths(JOB_BODY))
HEADERS = [msgpack.unpackb(frames[0], raw=False) for frames in SAMPLES]


def agrees(job: sp.Job, body: dict, payloads: list) -> None:
    """An accepted job says what the body said: it is valid, not merely 'a value'."""
    ref = body["reference"]
    assert (job.reference.width, job.reference.height) == (ref["width"], ref["height"])
    assert job.reference.data == payloads[ref["payload"]]
    assert len(job.tracks) == len(body["tracks"]) >= 1
    for track, sent in zip(job.tracks, body["tracks"]):
        assert track.arrow.points == tuple((float(x), float(y)) for x, y in sent["arrow"]["points"])
        assert len(track.arrow.points) >= 2
        if track.mask.kind == "polygons":
            assert track.mask.polygons == tuple(tuple((float(x), float(y)) for x, y in poly)
                                                for poly in sent["mask"]["polygons"])
        else:
            assert track.mask.data == payloads[sent["mask"]["payload"]]
    params = body.get("params") or {}
    for name, (kind, low, high, low_inclusive, high_inclusive) in PARAM_RANGES.items():
        value = getattr(job.params, name)
        if params.get(name) is None:
            assert value == DEFAULT_PARAMS[name]
            continue
        assert value == params[name] and type(value) is (int if kind == "int" else float)
        assert low is None or (value >= low if low_inclusive else value > low), name
        assert high is None or (value <= high if high_inclusive else value < high), name
    assert job.params.frames <= sp.Limits().max_frames
    assert job.params.width * job.params.height <= sp.Limits().max_pixels


def must_refuse(path, value) -> str | None:
    """The field a replacement certainly breaks (by its type or range alone), else None."""
    if len(path) == 2 and path[0] == "params" and path[1] in PARAM_RANGES and value is not None:
        kind, low, high, low_inclusive, high_inclusive = PARAM_RANGES[path[1]]
        if type(value) not in ((int,) if kind == "int" else (int, float)):
            return f"params.{path[1]}"
        if value != value or (low is not None and (value < low if low_inclusive else value <= low)) \
                or (high is not None and (value > high if high_inclusive else value >= high)):
            return f"params.{path[1]}"
    if path in (("tracks",), ("reference",)) and not isinstance(value, (list, dict)):
        return path[0]
    if len(path) == 5 and path[2:4] == ("arrow", "points") and not (
            type(value) is list and len(value) == 2 and all(type(c) in (int, float) for c in value)):
        return f"tracks[{path[1]}].arrow.points[{path[4]}]"
    return None


@settings(SETTINGS, max_examples=200)
@given(st.sampled_from(JOB_PATHS), msgpack_values)
def test_job_with_any_field_replaced(path, value):
    body = replaced(JOB_BODY, path, value)
    outcome = check_job(body, JOB_PAYLOADS)
    broken = must_refuse(path, value)
    if broken is not None:
        assert isinstance(outcome, sp.ProtocolError), f"{broken} = {value!r} was accepted"
        assert outcome.field == broken, (outcome.field, outcome.message)
    if isinstance(outcome, sp.Job):
        agrees(outcome, body, JOB_PAYLOADS)
    # and the same body through the wire, when msgpack can carry it
    try:
        frames = sp.encode(sp.Message("submit", body=body, payloads=JOB_PAYLOADS))
    except sp.ProtocolError:
        return
    receive(frames)


@SETTINGS
@given(st.sampled_from(range(len(SAMPLES))), st.data())
def test_header_with_any_field_replaced(sample, data):
    header = HEADERS[sample]
    path = data.draw(st.sampled_from(list(paths(header))))
    value = data.draw(msgpack_values)
    try:
        packed = msgpack.packb(replaced(header, path, value), use_bin_type=True)
    except (TypeError, ValueError, OverflowError):
        return
    receive([packed, *SAMPLES[sample][1:]])


@SETTINGS
@given(st.sampled_from(range(len(JOB_PAYLOADS))), st.lists(mutation, min_size=1, max_size=3))
def test_job_with_corrupted_payload(which, mutations):
    payloads = list(JOB_PAYLOADS)
    for how, position, value, extra in mutations:
        payloads[which] = mutate(payloads[which], how, position, value, extra)
    outcome = check_job(JOB_BODY, payloads)
    if isinstance(outcome, sp.Job):
        agrees(outcome, JOB_BODY, payloads)
    if which == 2 and len(payloads[2]) != len(JOB_PAYLOADS[2]):   # the raw mask: exact size or refused
        assert isinstance(outcome, sp.ProtocolError) and outcome.field == "tracks[1].mask.payload"
