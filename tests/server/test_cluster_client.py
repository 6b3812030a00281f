"""``--cluster ray://HEAD:PORT`` against a real Ray head that this test starts itself (``ray start
--head`` with its Ray Client server on loopback, its own auth token and temp folder, stopped at the
end): the front, configured by a TOML file as a studio would, deploys its replicas there, one job's
frames arrive, and the deployment carries the file's autoscaling bounds."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import pytest

import shared_protocol as sp
from tests.server.client import TestClient
from tests.server.conftest import ROOT, _read_line, make_job, server_env
from tests.server.fake_backend import frame_colour

pytest.importorskip("ray.serve", reason="cluster mode needs the .[cluster] extra (dev.py installs it)")
pytestmark = pytest.mark.slow

BACKEND = "tests.server.cluster_backend:create"
START_TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A Ray head of this test only: ``ray start --head --block`` in a session of its own, so SIGTERM
    to it stops exactly its processes (``ray stop`` would stop every Ray on the machine)."""
    env = server_env()
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    env.pop("RAY_ADDRESS", None)
    client_port, gcs_port = free_port(), free_port()
    temp = tmp_path_factory.mktemp("ray")
    log = open(temp / "head.log", "w")
    # `python -m ray.scripts.scripts`, not the `ray` script: a copied environment's script may
    # point at another interpreter.
    proc = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={gcs_port}", f"--ray-client-server-port={client_port}", "--num-cpus=2",
         "--object-store-memory=100000000", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={temp}"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_open(client_port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Ray head did not start: {(temp / 'head.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield f"ray://127.0.0.1:{client_port}", env, f"127.0.0.1:{gcs_port}"
    finally:
        proc.send_signal(signal.SIGTERM)      # `--block` stops the processes it started
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def test_front_on_a_ray_client_address_streams_a_job_with_the_config_files_bounds(ray_head, tmp_path):
    address, env, gcs_address = ray_head
    config = tmp_path / "server.toml"
    config.write_text(f'[server]\ncluster = "{address}"\ncluster_min_replicas = 1\ncluster_max_replicas = 2\n'
                      'cluster_gpus_per_replica = 0\ncluster_cpus_per_replica = 0.5\n'
                      f'backend = "{BACKEND}"\nbind = "tcp://127.0.0.1:*"\nlog_level = "warning"\n')
    front = subprocess.Popen([sys.executable, "-m", "server", "--config", str(config)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = None
    try:
        line = _read_line(front, START_TIMEOUT_S)     # the ready line comes once the replicas are up
        if not line.startswith("trackgo-server ready on "):
            front.kill()
            pytest.fail(f"no ready line: {line!r}; stderr: {front.stderr.read()[-3000:]}")
        client = TestClient(line.split(" ready on ", 1)[1].split(" ", 1)[0])
        client.hello()
        stream = client.submit(make_job(frames=3, seed=77))
        client.wait_all([stream], 240)
        assert stream.final.type == "done", stream.final.body
        assert [f.body["index"] for f in stream.frames] == [0, 1, 2]
        import cv2
        import numpy as np
        for f in stream.frames:
            bgr = cv2.imdecode(np.frombuffer(f.payloads[0], np.uint8), cv2.IMREAD_COLOR)
            assert tuple(int(v) for v in bgr[5, 5][::-1]) == frame_colour(77, f.body["index"])
        cluster = client.request(sp.make_status()).body["cluster"]
        assert (cluster["mode"], cluster["slots"], cluster["min_replicas"], cluster["max_replicas"]) == ("ray", 2, 1, 2)
        # What Serve itself deployed (read by a driver on the head's machine, this one).
        probe = subprocess.run([sys.executable, "-c", DEPLOYED_BOUNDS, gcs_address], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=180)
        assert probe.stdout.strip().splitlines()[-1:] == ["1 2 1.0"], probe.stderr[-2000:]
    finally:
        if client is not None:
            client.close()
        front.send_signal(signal.SIGTERM)
        try:
            code = front.wait(120)
        except subprocess.TimeoutExpired:
            front.kill()
            code = front.wait(10)
        front.stdout.close()
        front.stderr.close()
    assert code == 0


# Prints "min max target" of the trackgo deployment's autoscaling config as Serve holds it.
DEPLOYED_BOUNDS = """
import sys, ray
from ray import serve
ray.init(address=sys.argv[1], log_to_driver=False)
details = serve.context._get_global_client().get_serve_details()
auto = details["applications"]["trackgo"]["deployments"]["TrackGoReplica"]["deployment_config"]["autoscaling_config"]
print(auto["min_replicas"], auto["max_replicas"], float(auto["target_ongoing_requests"]))
"""
