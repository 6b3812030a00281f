"""The console script as a real process: --help, the ready line, start-up failures, signals, kill."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys

import shared_protocol as sp
from server.config import ConfigError, load_config
from tests.server.client import TestClient
from tests.server.conftest import FAKE, ROOT, make_job, server_env

import pytest


# A bound against a hung start-up, not a speed claim: importing torch + diffusers on a loaded
# 2-core machine has taken over a minute.
CLI_TIMEOUT_S = 300


def run_cli(*args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=server_env(),
                          capture_output=True, text=True, timeout=timeout)


def test_help_works_without_torch():
    code = ("import sys\nfrom server.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit as e:\n"
            "    assert e.code == 0\nassert 'torch' not in sys.modules, 'torch imported by --help'\n"
            "assert 'cv2' not in sys.modules and 'zmq' not in sys.modules\nprint('NO_TORCH_OK')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=server_env(), capture_output=True,
                         text=True, timeout=CLI_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    assert "--svd-path" in out.stdout and "--allowed-clients" in out.stdout and "TRACKGO_" in out.stdout
    assert "NO_TORCH_OK" in out.stdout


def test_console_script_help():
    script = ROOT / ".venvs" / "server" / "bin" / "trackgo-server"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "server"]
    out = subprocess.run(cmd + ["--help"], cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert out.returncode == 0 and out.stdout.startswith("usage: trackgo-server")


@pytest.mark.parametrize("args, expected", [
    (["--backend", "nosuch"], "backend: unknown name 'nosuch'"),
    (["--backend", FAKE, "--backend-option", "fail_load=1"], "could not load: weights not found"),
    (["--bind", "tcp://0.0.0.0:0"], "reachable from other machines"),
    (["--queue-length", "zero"], "queue_length (from --queue-length): expected an integer"),
    (["--config", "/nonexistent/trackgo.toml"], "config: no such file"),
    # weights configured -> the trackgo backend is chosen, and missing files stop the start-up
    (["--svd-path", "/nonexistent/svd", "--adapter-path", "/nonexistent/adapter"],
     "backend 'trackgo' could not load: "),
    (["--server-key", "/nonexistent.key_secret"], "give both"),
    (["--server-key", "/nonexistent.key_secret", "--allowed-clients", "/tmp"], "server_key: no such file"),
])
def test_startup_failures_exit_non_zero_with_clear_message(args, expected):
    out = run_cli(*args)
    assert out.returncode != 0
    assert expected in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert "ready" not in out.stdout


def test_port_taken():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        out = run_cli("--backend", FAKE, "--bind", f"tcp://127.0.0.1:{port}")
    finally:
        holder.close()
    assert out.returncode == 1
    assert f"cannot listen on tcp://127.0.0.1:{port}" in out.stderr and "Traceback" not in out.stderr


def test_settings_from_env_and_toml(tmp_path):
    toml = tmp_path / "server.toml"
    toml.write_text('[server]\nqueue_length = 7\nheartbeat-interval = 2.5\nlog_level = "debug"\n'
                    '[server.backend_options]\ndelay = 0.5\n')
    cfg = load_config(["--config", str(toml), "--log-level", "warning"], environ={"TRACKGO_QUEUE_LENGTH": "9"})
    assert cfg.queue_length == 9            # env beats file
    assert cfg.heartbeat_interval == 2.5    # file beats default
    assert cfg.log_level == "warning"       # flag beats file
    assert cfg.backend_options == {"delay": "0.5"}
    assert cfg.backend_name == "preview"
    assert load_config(["--svd-path", "/a", "--adapter-path", "/b"], environ={}).backend_name == "trackgo"
    toml.write_text("queue_lenght = 3\n")
    with pytest.raises(ConfigError, match="queue_lenght .*unknown setting"):
        load_config(["--config", str(toml)], environ={})
    with pytest.raises(ConfigError, match=r"TRACKGO_HEARTBEAT_INTERVAL\): expected a number"):
        load_config([], environ={"TRACKGO_HEARTBEAT_INTERVAL": "soon"})


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_ready_line_then_signal_cancels_running_job(spawn_server, signum):
    server = spawn_server("--backend", FAKE, "--backend-option", "delay=0.05", "--bind", "tcp://127.0.0.1:*",
                          "--heartbeat-interval", "0.2")
    assert server.ready_line.endswith("(backend solid)")
    client = TestClient(server.endpoint)
    try:
        running = client.submit(make_job(frames=60, seed=1))
        queued = client.submit(make_job(frames=60, seed=2))
        client.wait_accepted(running)
        client.wait_accepted(queued)
        while not running.frames:
            client.recv(1)
        server.proc.send_signal(signum)
        client.wait_all([running, queued], 10)
        assert running.final.type == "cancelled"
        assert queued.final.type == "error" and queued.final.body["code"] == "shutting_down"
        assert server.proc.wait(15) == 0
    finally:
        client.close()


def test_client_notices_a_killed_server_within_heartbeat_timeout(spawn_server):
    interval = 0.2
    server = spawn_server("--backend", FAKE, "--backend-option", "delay=0.1", "--bind", "tcp://127.0.0.1:*",
                          "--heartbeat-interval", str(interval))
    client = TestClient(server.endpoint)
    try:
        welcome = client.hello()
        timeout = sp.server_lost_after(welcome.body["heartbeat_interval_s"])   # the one rule (protocol.md 8)
        stream = client.submit(make_job(frames=60, seed=3))
        client.wait_accepted(stream)
        server.proc.kill()
        assert server.proc.wait(15) is not None
        # A client's rule: nothing heard (not even a ping) for `timeout` seconds = server lost.
        # What was in flight at the kill drains, then silence: counted in messages, not seconds.
        drained = 0
        while client.recv(timeout) is not None:
            drained += 1
            assert drained < 200, "still receiving after the server was killed"
        assert stream.final is None
    finally:
        client.close()


def test_server_pings_idle_clients(spawn_server):
    server = spawn_server("--backend", FAKE, "--bind", "tcp://127.0.0.1:*", "--heartbeat-interval", "0.1")
    client = TestClient(server.endpoint, answer_pings=False)
    try:
        client.hello()
        raw = client.socket.poll(1000)
        assert raw
        msg = sp.decode(client.socket.recv_multipart())
        assert msg.type == "ping" and isinstance(msg.body["t"], float)
    finally:
        client.close()


def test_failed_load_with_curve_exits_promptly(tmp_path):
    from server.keygen import main as keygen

    assert keygen(["server", "--dir", str(tmp_path)]) == 0
    out = run_cli("--backend", FAKE, "--backend-option", "fail_load=1", "--bind", "tcp://127.0.0.1:*",
                  "--server-key", str(tmp_path / "server.key_secret"), "--allowed-clients", str(tmp_path),
                  timeout=CLI_TIMEOUT_S)
    assert out.returncode == 1 and "could not load" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("argv, environ, toml", [
    (["--heartbeat-interval", "nan"], {}, None),
    ([], {"TRACKGO_HEARTBEAT_INTERVAL": "NaN"}, None),
    ([], {}, "heartbeat_interval = nan\n"),
])
def test_nan_settings_are_refused(tmp_path, argv, environ, toml):
    # nan compares false with every bound: it used to start a server that never sent a heartbeat,
    # spun its loop without sleeping and announced a welcome no client could decode.
    from server.config import ConfigError, load_config
    if toml is not None:
        (tmp_path / "t.toml").write_text(toml)
        argv = ["--config", str(tmp_path / "t.toml")]
    with pytest.raises(ConfigError, match=r"(?i)heartbeat_interval \(from .*\): expected a number, got '?nan"):
        load_config(argv, environ=environ)
