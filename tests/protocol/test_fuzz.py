"""Property tests: whatever bytes arrive, decode / validate_job return a value or raise ProtocolError.

`internal` is the code of the safety net around both functions (an unexpected exception inside
them); it must never be reached, so these tests also fail on it.
"""

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shared_protocol as sp
from shared_protocol.messages import JOB_BODY_TYPES

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
        return check_job(msg.body, msg.payloads, limits)
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


@settings(SETTINGS, max_examples=200)
@given(st.sampled_from(JOB_PATHS), msgpack_values)
def test_job_with_any_field_replaced(path, value):
    body = replaced(JOB_BODY, path, value)
    check_job(body, JOB_PAYLOADS)
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
    check_job(JOB_BODY, payloads)
