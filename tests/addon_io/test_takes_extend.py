"""Takes (``blender_addon.io.takes``: a job kept byte for byte) and extending a take
(``blender_addon.io.extend``: where each track goes next), without Blender."""
from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pytest

import shared_protocol as sp
from blender_addon.io import extend, takes
from blender_addon.io.takes import TakeError, TakeRecord, fix_seed, from_text, to_text


# ---- takes -------------------------------------------------------------------------------------------

def record(**extra):
    body = {"reference": {"payload": 0}, "tracks": [{"name": "Ball"}],
            "params": {"seed": 42, "frames": 8, "guidance": 0.1 + 0.2}}
    return TakeRecord(body=body, payloads=[b"reference pixels" * 10, bytes(range(256))], **extra)


def test_a_take_round_trips_exactly():
    rec = record(reference_source={"image": "plate", "frame": 3}, sources={"masks": [1, 2]},
                 tracks_meta=[{"name": "Ball"}], server={"server": "s", "backend": "trackgo"}, frame_start=17)
    back = from_text(to_text(rec))
    assert back == rec
    assert back.body["params"]["guidance"] == 0.1 + 0.2        # floats keep their exact value
    assert back.payloads[1] == bytes(range(256))


def test_the_text_is_sorted_compact_json_with_hashed_compressed_payloads():
    rec = record()
    text = to_text(rec)
    assert ", " not in text and ": " not in text
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["format"] == "trackgo-take/1" == takes.FORMAT
    assert data["reference_hash"] == takes.content_hash(rec.payloads[0]) == rec.reference_hash
    p0 = data["payloads"][0]
    assert p0["size"] == len(rec.payloads[0]) and p0["sha256"] == takes.content_hash(rec.payloads[0])
    assert zlib.decompress(base64.b64decode(p0["zlib_b64"])) == rec.payloads[0]
    with pytest.raises(ValueError):
        to_text(TakeRecord(body={"x": float("nan")}, payloads=[]))


def test_a_record_knows_its_seed_backend_and_reference():
    rec = record(server={"backend": "preview"})
    assert rec.seed == 42 and rec.backend == "preview"
    rec.body["params"]["backend"] = "trackgo"
    assert rec.backend == "trackgo"
    assert TakeRecord(body={}, payloads=[]).seed is None
    assert TakeRecord(body={}, payloads=[]).backend == "" and TakeRecord(body={}, payloads=[]).reference_hash == ""
    assert rec.reference_hash == takes.content_hash(rec.payloads[0])
    assert takes.content_hash(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert TakeRecord(body={}, payloads=[]).frame_start == 1


def test_job_gives_a_fresh_copy_to_send_again():
    rec = record()
    body, payloads = rec.job()
    body["params"]["seed"] = 0
    body["tracks"][0]["name"] = "changed"
    assert rec.body["params"]["seed"] == 42 and rec.body["tracks"][0]["name"] == "Ball"
    assert payloads == rec.payloads and all(type(p) is bytes for p in payloads)


def test_fix_seed_keeps_a_given_seed_or_picks_one_in_range():
    body = {"params": {"seed": 5}}
    assert fix_seed(body, 9) == 5 and body["params"]["seed"] == 5
    body = {"params": {"seed": None}}
    assert fix_seed(body, np.int64(9)) == 9 and type(body["params"]["seed"]) is int
    body = {}
    seed = fix_seed(body)
    assert body["params"]["seed"] == seed and 0 <= seed <= sp.messages.MAX_SEED
    seeds = {fix_seed({}) for _ in range(20)}
    assert len(seeds) > 1


def test_fix_seed_can_reach_the_largest_seed(monkeypatch):
    monkeypatch.setattr(takes.secrets, "randbelow", lambda n: n - 1)
    assert fix_seed({}) == sp.messages.MAX_SEED


@pytest.mark.parametrize("text,match", [
    ("not json", r"^take: expected the JSON text of a take \("),
    (None, r"^take: expected the JSON text of a take \("),
    ("[1, 2]", r"^take\.format: expected 'trackgo-take/1', got \[1, 2\]$"),
    ('{"format": "trackgo-take/2"}', r"^take\.format: expected 'trackgo-take/1', got 'trackgo-take/2'$"),
    ('{"format": "trackgo-take/1", "body": [], "payloads": []}',
     r"^take\.body / take\.payloads: expected the job map and its payload list$"),
    ('{"format": "trackgo-take/1", "body": {}, "payloads": {}}',
     r"^take\.body / take\.payloads: expected the job map and its payload list$"),
    ('{"format": "trackgo-take/1", "body": {}, "payloads": [{"sha256": "x", "size": 1}]}',
     r"^take\.payloads\[0\]: expected a map with sha256, size and zlib_b64$"),
    ('{"format": "trackgo-take/1", "body": {}, "payloads": [[1]]}',
     r"^take\.payloads\[0\]: expected a map with sha256, size and zlib_b64$"),
    ('{"format": "trackgo-take/1", "body": {}, "payloads": [{"sha256": "x", "size": 1, "zlib_b64": "@@@"}]}',
     r"^take\.payloads\[0\]: the stored bytes are damaged \("),
    ('{"format": "trackgo-take/1", "body": {}, "payloads": [{"sha256": "x", "size": 1, "zlib_b64": "AAAA"}]}',
     r"^take\.payloads\[0\]: the stored bytes are damaged \("),
])
def test_a_damaged_take_is_an_error_naming_the_field(text, match):
    with pytest.raises(TakeError, match=match):
        from_text(text)


def test_bytes_that_do_not_match_their_hash_or_size_are_refused():
    data = json.loads(to_text(record()))
    good = json.dumps(data)
    wrong_size = json.loads(good)
    wrong_size["payloads"][1]["size"] += 1
    with pytest.raises(TakeError, match=r"^take\.payloads\[1\]: the stored bytes do not match their SHA-256 \(damaged take\)$"):
        from_text(json.dumps(wrong_size))
    wrong_hash = json.loads(good)
    wrong_hash["payloads"][1]["sha256"] = "0" * 64
    with pytest.raises(TakeError, match=r"^take\.payloads\[1\]: the stored bytes do not match"):
        from_text(json.dumps(wrong_hash))
    other = json.loads(good)
    other["payloads"][0] = other["payloads"][1]
    with pytest.raises(TakeError, match=r"^take\.reference_hash: does not match the stored reference pixels$"):
        from_text(json.dumps(other))
    assert from_text(good) == record()


def test_stray_characters_in_the_stored_bytes_are_damage_not_noise():
    data = json.loads(to_text(record()))
    b64 = data["payloads"][1]["zlib_b64"]
    data["payloads"][1]["zlib_b64"] = b64[:8] + "!" + b64[8:]      # would be skipped by a lax decoder
    with pytest.raises(TakeError, match=r"^take\.payloads\[1\]: the stored bytes are damaged \("):
        from_text(json.dumps(data))


def test_missing_optional_parts_read_as_empty():
    data = json.loads(to_text(record()))
    for key in ("reference_source", "sources", "tracks_meta", "server", "frame_start"):
        del data[key]
    back = from_text(json.dumps(data))
    assert (back.reference_source, back.sources, back.tracks_meta, back.server, back.frame_start) == ({}, {}, [], {}, 1)
    data["frame_start"] = "12"
    assert from_text(json.dumps(data)).frame_start == 12
    empty = from_text(json.dumps({"format": "trackgo-take/1", "body": {}, "payloads": []}))
    assert empty.payloads == [] and empty.body == {}
    with pytest.raises(TakeError):
        from_text(json.dumps({"format": "trackgo-take/1", "body": {}, "payloads": data["payloads"]}))


# ---- extend -----------------------------------------------------------------------------------------

L_ARROW = [[0.0, 0.0], [10.0, 0.0], [10.0, 30.0]]     # 40 px long: 10 across then 30 down


@pytest.mark.parametrize("u,point", [(0.0, (0, 0)), (0.125, (5, 0)), (0.25, (10, 0)), (0.5, (10, 10)),
                                     (1.0, (10, 30)), (-1.0, (0, 0)), (2.0, (10, 30))])
def test_arc_point_is_measured_along_the_polyline(u, point):
    assert np.allclose(extend.arc_point(L_ARROW, u), point)


def test_remaining_arrow_starts_where_the_track_stopped():
    assert np.allclose(extend.remaining_arrow(L_ARROW, 0.125), [[5, 0], [10, 0], [10, 30]])
    assert np.allclose(extend.remaining_arrow(L_ARROW, 0.25), [[10, 0], [10, 30]])     # on a corner: once
    assert np.allclose(extend.remaining_arrow(L_ARROW, 0.0), [[0, 0], [10, 0], [10, 30]])
    assert np.allclose(extend.remaining_arrow(L_ARROW, 1.0), [[10, 30]])
    assert np.allclose(extend.remaining_arrow(L_ARROW, -0.5), [[0, 0], [10, 0], [10, 30]])   # clamped: once
    # stopped half a pixel before the corner: the corner is still ahead
    assert np.allclose(extend.remaining_arrow(L_ARROW, 9.5 / 40), [[9.5, 0], [10, 0], [10, 30]])


def test_scale_points_maps_pixel_centres():
    assert np.allclose(extend.scale_points([[0, 0], [9, 4]], (10, 5), (20, 20)), [[0.5, 1.5], [18.5, 17.5]])
    assert np.allclose(extend.scale_points([[0, 0], [9, 4]], (10, 5), (30, 20)), [[1.0, 1.5], [28.0, 17.5]])
    assert np.allclose(extend.scale_points([[-0.5, -0.5]], (10, 5), (20, 20)), [[-0.5, -0.5]])


def test_moved_mask_shifts_rounds_and_resizes():
    m = np.zeros((4, 6), np.uint8)
    m[1, 2] = 255
    assert np.argwhere(extend.moved_mask(m, (1.4, 1.6), (6, 4))).tolist() == [[3, 3]]
    assert np.argwhere(extend.moved_mask(m, (-2, -1), (6, 4))).tolist() == [[0, 0]]
    assert np.argwhere(extend.moved_mask(m, (3, -1), (6, 4))).tolist() == [[0, 5]]
    assert np.argwhere(extend.moved_mask(m, (-2, 2), (6, 4))).tolist() == [[3, 0]]
    assert not extend.moved_mask(m, (4, 0), (6, 4)).any()            # pushed out: lost
    assert not extend.moved_mask(m, (0, -2), (6, 4)).any()
    assert not extend.moved_mask(m, (6, 0), (6, 4)).any() and not extend.moved_mask(m, (0, 4), (6, 4)).any()
    assert not extend.moved_mask(m, (-7, 0), (6, 4)).any()
    big = extend.moved_mask(m, (0, 0), (12, 8))
    assert big.shape == (8, 12) and big.dtype == np.uint8 and np.argwhere(big).tolist() == [[2, 4], [2, 5], [3, 4], [3, 5]]
    full = np.full((4, 6), 7, np.uint8)
    assert extend.moved_mask(full, (0, 0), (3, 2)).tolist() == [[7, 7, 7], [7, 7, 7]]
    grad = np.arange(24, dtype=np.uint8).reshape(4, 6)
    assert extend.moved_mask(grad, (0, 0), (3, 2)).tolist() == [[7, 9, 11], [19, 21, 23]]


def test_next_part_continues_along_the_rest_of_the_arrow():
    arrow, progress, u_next, held = extend.next_part(L_ARROW, 0.5, 0.0, [0.5, 0.75, 1.0, 1.2], 4)
    assert not held and u_next == 0.5
    assert np.allclose(arrow, [[10, 10], [10, 30]])
    assert np.allclose(progress, [0.0, 0.5, 1.0, 1.0])
    # a part that began later on the original arrow: shares are of what was left
    arrow, progress, u_next, held = extend.next_part(L_ARROW, 0.5, 0.2, [0.6, 0.8, 0.5], 3)
    assert not held and u_next == pytest.approx(0.6)
    assert np.allclose(progress, [0.0, 0.5, 0.0])


def test_a_track_with_nothing_left_holds_still():
    for args in [(L_ARROW, 1.0, 0.0, [1.0, 1.0]), (L_ARROW, 0.5, 0.0, None),
                 (L_ARROW, 0.9999999, 0.99, [1.0, 1.0])]:
        arrow, progress, u_next, held = extend.next_part(*args, 2)
        stop = extend.arc_point(L_ARROW, args[1])
        assert held and progress == [0.0, 0.0]
        assert np.allclose(arrow, [stop, stop + [1.0, 0.0]])
    assert extend.next_part(L_ARROW, 0.5, 0.0, None, 3)[1] == [0.0, 0.0, 0.0]
    assert extend.HOLD_EPS == 1e-6
    # just more than the tolerance left: it still moves
    _, _, u_next, held = extend.next_part(L_ARROW, 0.5, 1 - 4e-6, [1.0], 1)
    assert not held and 1 - u_next > extend.HOLD_EPS
