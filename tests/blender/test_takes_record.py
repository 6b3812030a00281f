"""The Blender-free take record: exact round trip, seeds fixed before sending, damage detected."""
from __future__ import annotations

import json

import numpy as np
import pytest

from blender_addon.io import takes
from blender_addon.io.job import TrackInput, build_job


def _record():
    ref = (np.arange(32 * 16 * 3) % 251).astype(np.uint8).reshape(16, 32, 3)
    mask = np.zeros((16, 32), np.uint8)
    mask[4:10, 4:12] = 255
    body, payloads = build_job(ref, [TrackInput("Ball", mask, np.array([[6.0, 6.0], [20.5, 7.125]]))],
                               {"frames": 5, "seed": None, "noise_aug_strength": 0.1 + 0.2})
    takes.fix_seed(body, 2**62 + 7)
    return takes.TakeRecord(body=body, payloads=payloads, reference_source={"image": "Plate", "frame": 10},
                            sources={"tracks": [{"name": "Ball"}]}, server={"server": "trackgo", "protocol": [1, 1]},
                            frame_start=10)


def test_round_trip_is_exact():
    rec = _record()
    back = takes.from_text(takes.to_text(rec))
    assert back.body == rec.body and back.payloads == rec.payloads
    assert back.body["params"]["noise_aug_strength"] == 0.1 + 0.2      # float kept to the bit
    assert back.seed == 2**62 + 7 and back.frame_start == 10
    assert back.reference_hash == takes.content_hash(rec.payloads[0])
    assert back.reference_source == {"image": "Plate", "frame": 10}
    assert takes.to_text(back) == takes.to_text(rec)


def test_fix_seed_keeps_a_chosen_seed_and_picks_one_otherwise():
    body = {"params": {"seed": 5}}
    assert takes.fix_seed(body) == 5
    picked = {takes.fix_seed({"params": {"seed": None}}) for _ in range(4)}
    assert all(isinstance(s, int) and 0 <= s < 2**63 for s in picked) and len(picked) > 1


def test_damaged_take_is_an_error_naming_the_field():
    data = json.loads(takes.to_text(_record()))
    data["payloads"][1]["sha256"] = "0" * 64
    with pytest.raises(takes.TakeError, match=r"take.payloads\[1\]"):
        takes.from_text(json.dumps(data))
    with pytest.raises(takes.TakeError, match="take.format"):
        takes.from_text(json.dumps({"format": "other"}))
