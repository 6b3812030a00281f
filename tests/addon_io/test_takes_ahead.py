"""Payloads encoded ahead (``takes.encode_ahead``, in the worker thread that built the job) are
what recording the take then writes, without encoding them again on Blender's main thread; only
the last ``AHEAD_KEPT`` are kept, the oldest dropped first."""
from __future__ import annotations

import json

import pytest

from blender_addon.io import takes
from blender_addon.io.takes import TakeRecord, from_text, to_text


@pytest.fixture
def encodes(monkeypatch):
    """The payloads ``takes`` encodes, in order (the ahead cache starts empty)."""
    monkeypatch.setattr(takes, "_AHEAD", {})
    done = []
    real = takes._encode

    def spy(data):
        done.append(data)
        return real(data)

    monkeypatch.setattr(takes, "_encode", spy)
    return done


def test_a_take_recorded_after_encode_ahead_encodes_nothing_again(encodes):
    payloads = [b"reference pixels" * 50, bytes(range(256))]
    takes.encode_ahead(payloads)
    assert encodes == payloads
    rec = TakeRecord(body={"params": {"seed": 1}}, payloads=payloads)
    text = to_text(rec)
    assert encodes == payloads                       # the main thread only looked them up
    assert from_text(text).payloads == payloads
    stored = json.loads(text)["payloads"]
    assert stored == [takes._AHEAD[id(p)][1] for p in payloads]


def test_only_the_last_ones_are_kept_the_oldest_dropped_first(encodes):
    payloads = [bytes([k]) * 8 for k in range(takes.AHEAD_KEPT + 1)]
    takes.encode_ahead(payloads)
    assert len(takes._AHEAD) == takes.AHEAD_KEPT
    encodes.clear()
    to_text(TakeRecord(body={}, payloads=payloads[1:]))
    assert encodes == []                             # all kept
    to_text(TakeRecord(body={}, payloads=payloads[:1]))
    assert encodes == payloads[:1]                   # the oldest was dropped: encoded again
