"""Joining a Ray cluster over Ray Client (``ray://``): a head that refuses one connection while it
starts its per-client server (seen once in CI: "Initialization failure from server", a server that
died starting) gets another try; a head that keeps refusing ends the start with Ray's own reason;
a local Ray is never retried (its failures are not transient)."""
from __future__ import annotations

import logging

import pytest

from server.cluster import runner


class FakeRay:
    def __init__(self, failures: int):
        self.failures = failures
        self.calls: list[dict] = []

    def init(self, **kwargs):
        self.calls.append(kwargs)
        if len(self.calls) <= self.failures:
            raise ConnectionAbortedError("Initialization failure from server:\nTraceback ... ZombieProcess")


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    waits = []
    monkeypatch.setattr(runner.time, "sleep", waits.append)
    return waits


def test_a_ray_client_head_that_refuses_once_is_tried_again(no_waiting, caplog):
    caplog.set_level(logging.WARNING, logger="trackgo.server.cluster")
    ray = FakeRay(failures=1)
    runner.RayRunner._init_ray(ray, {"address": "ray://head:10001", "include_dashboard": False})
    assert len(ray.calls) == 2 and ray.calls[1] == {"address": "ray://head:10001", "include_dashboard": False}
    assert no_waiting == [2.0]
    assert "ray://head:10001 refused the connection (attempt 1 of 3)" in caplog.text
    assert "Initialization failure from server:" in caplog.text and "ZombieProcess" not in caplog.text


def test_a_head_that_keeps_refusing_ends_the_start_with_rays_reason(no_waiting):
    ray = FakeRay(failures=10)
    with pytest.raises(ConnectionAbortedError, match="Initialization failure from server"):
        runner.RayRunner._init_ray(ray, {"address": "ray://head:10001"})
    assert len(ray.calls) == runner.RAY_CLIENT_ATTEMPTS == 3
    assert no_waiting == [2.0, 4.0]


@pytest.mark.parametrize("kwargs", [{"address": "local"}, {}])
def test_a_local_ray_is_not_retried(no_waiting, kwargs):
    ray = FakeRay(failures=1)
    with pytest.raises(ConnectionAbortedError):
        runner.RayRunner._init_ray(ray, kwargs)
    assert len(ray.calls) == 1 and no_waiting == []
