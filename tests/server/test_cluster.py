"""Cluster mode on a real, local Ray (started by these tests, small, stopped afterwards): the
ZeroMQ front as Blender knows it, jobs on two Ray Serve replicas of a test backend."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import shared_protocol as sp
from tests.server.client import TestClient
from tests.server.cluster_backend import DIE_SEED
from tests.server.conftest import make_job
from tests.server.fake_backend import frame_colour

pytest.importorskip("ray.serve", reason="cluster mode needs the .[cluster] extra (dev.py installs it)")
pytestmark = pytest.mark.slow

BACKEND = "tests.server.cluster_backend:create"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One front + a local Ray with 2 replicas for the whole module (Ray starts in seconds, not ms)."""
    from server.cli import start
    from server.config import ServerConfig

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    marks = tmp_path_factory.mktemp("cancel-marks")
    cfg = ServerConfig(bind="tcp://127.0.0.1:*", backend=BACKEND, heartbeat_interval=0.2, log_level="warning",
                       queue_length=64, client_quota=8, cluster="local", cluster_replicas=2,
                       cluster_gpus_per_replica=0, cluster_cpus_per_replica=0.5, cluster_local_cpus=2,
                       cluster_object_store_mb=100,
                       backend_options={"delay": "0.1", "marks": str(marks)})
    service = start(cfg)
    thread = threading.Thread(target=service.serve, name="test-cluster-front", daemon=True)
    thread.start()
    assert service.ready.wait(30)
    service.marks = marks
    yield service
    service.request_stop()
    thread.join(60)
    assert not thread.is_alive(), "front did not stop"


@pytest.fixture
def connect(cluster):
    clients = []

    def make() -> TestClient:
        client = TestClient(cluster.endpoint)
        clients.append(client)
        return client
    yield make
    for client in clients:
        client.close()


def wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_eight_clients_three_jobs_each_every_frame_once_to_its_owner(cluster, connect):
    clients = [connect() for _ in range(8)]
    frames = 3
    streams = {}
    for c, client in enumerate(clients):
        for j in range(3):
            seed = 2000 + c * 10 + j
            streams[seed] = (client, client.submit(make_job(frames=frames, seed=seed)))
    # Every client reads at once, each socket in a thread of its own (as eight users would): one
    # client waited on while the others went unread would be dropped as silent on a slow machine.
    readers = [threading.Thread(target=client.wait_all,
                                args=([s for cl, s in streams.values() if cl is client],), kwargs={"timeout": 240})
               for client in clients]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(300)
    for seed, (client, stream) in streams.items():
        finals = [m for m in stream.messages if m.type in sp.FINAL_TYPES]
        assert [f.type for f in finals] == ["done"], [f.body for f in finals]
        assert [m.seq for m in stream.messages] == list(range(len(stream.messages)))
        assert [f.body["index"] for f in stream.frames] == list(range(frames))
        for f in stream.frames:
            bgr = cv2.imdecode(np.frombuffer(f.payloads[0], np.uint8), cv2.IMREAD_COLOR)
            assert tuple(int(v) for v in bgr[5, 5][::-1]) == frame_colour(seed, f.body["index"])
        mine = {s.job_id for cl, s in streams.values() if cl is client}
        assert all(m.job in mine for m in client.others if m.job)


def test_status_reports_the_cluster(cluster, connect):
    client = connect()
    assert wait_for(lambda: client.request(sp.make_status()).body["cluster"]["replicas"] == 2, 60)
    body = client.request(sp.make_status()).body
    assert body["cluster"]["mode"] == "ray" and body["cluster"]["slots"] == 2 and body["busy"] is False


def test_cancel_reaches_the_replica(cluster, connect):
    client = connect()
    stream = client.submit(make_job(frames=64, seed=31))
    job_id = client.wait_accepted(stream, 60)
    assert wait_for(lambda: client.recv(0.2) is not None and len(stream.frames) >= 1, 60)
    client.send(sp.make_cancel(job_id))
    client.wait_all([stream], 60)
    assert stream.final.type == "cancelled"
    assert wait_for(lambda: (cluster.marks / f"{job_id}.cancelled").exists(), 60), "the replica never saw the cancel"


def test_a_vanished_client_frees_its_replica(cluster, connect):
    client = connect()
    stream = client.submit(make_job(frames=64, seed=32))
    job_id = client.wait_accepted(stream, 60)
    assert wait_for(lambda: client.recv(0.2) is not None and len(stream.frames) >= 1, 60)
    client.close()
    assert wait_for(lambda: (cluster.marks / f"{job_id}.cancelled").exists(), 60), "the replica kept running"
    assert wait_for(lambda: job_id not in cluster.jobs and not cluster.runner.all_busy(), 60)


def test_a_replica_that_dies_mid_job_gives_one_worker_lost(cluster, connect):
    victim, bystander = connect(), connect()
    doomed = victim.submit(make_job(frames=20, seed=DIE_SEED))
    others = [bystander.submit(make_job(frames=4, seed=40 + i)) for i in range(3)]
    victim.wait_all([doomed], 120)
    finals = [m for m in doomed.messages if m.type in sp.FINAL_TYPES]
    assert len(finals) == 1 and finals[0].type == "error" and finals[0].body["code"] == "worker_lost", \
        [m.body for m in finals]
    assert [m.seq for m in doomed.messages] == list(range(len(doomed.messages)))
    bystander.wait_all(others, 240)
    assert all(s.final.type == "done" for s in others), [s.final.body for s in others]
    # The cluster carries on: Serve replaces the replica, later jobs run.
    again = victim.submit(make_job(frames=2, seed=41))
    victim.wait_all([again], 240)
    assert again.final.type == "done"
