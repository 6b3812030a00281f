"""The local-server launcher (``blender_addon.io.launcher``) against small stand-in servers.

Each stand-in is a ``server`` package in a temporary folder run as ``python -m server`` (the
launcher's own command), so start-up lines, exit codes, the environment it passes on and how it
stops are all observed for real; a stand-in waits on its stdin, never on a timer.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import threading

import pytest

from blender_addon.io import launcher
from blender_addon.io.launcher import LocalServer, clean_environment, failure_cause, free_local_port

READY = LocalServer.READY_PREFIX


def fake_server(tmp_path, body: str):
    pkg = tmp_path / "server"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text("import os, sys\n" + body)
    return str(tmp_path)


def wait_for_lines(srv, n, timeout=20.0):
    gate = threading.Event()
    waited = 0.0
    while len(srv.lines) < n and waited < timeout:
        gate.wait(0.02)
        waited += 0.02
    assert len(srv.lines) >= n, list(srv.lines)


# ---- failure_cause ------------------------------------------------------------------------------

def test_the_servers_own_error_line_comes_first():
    lines = ["Traceback (most recent call last):", "ValueError: inner", "",
             "trackgo-server: error: first", "UserWarning: noise", "trackgo-server: error: --bind: port 5 taken",
             "later words"]
    assert failure_cause(lines) == "--bind: port 5 taken"


def test_else_the_exception_a_traceback_ended_with():
    assert failure_cause(["Traceback (most recent call last):", '  File "x.py", line 1', "KeyError: 'a'",
                          "torch.cuda.OutOfMemoryError: CUDA out of memory", "  warn('x')",
                          "FutureWarning: soon"]) == "torch.cuda.OutOfMemoryError: CUDA out of memory"
    assert failure_cause(["KeyboardInterrupt", "x"]) == "KeyboardInterrupt"
    assert failure_cause(["RuntimeException here", "plain"]) == "RuntimeException here"
    assert failure_cause(["ValueErrors are many", "plain end"]) == "plain end"   # not an exception name


def test_else_the_last_line_that_is_not_a_warning():
    assert failure_cause(["cannot load model", "UserWarning: deprecated", "  warnings.warn(msg)",
                          "   warn(x)", "   "]) == "cannot load model"
    assert failure_cause(["a", "b"]) == "b"
    assert failure_cause(["UserWarning: only warnings", "  warnings.warn(x)"]) == "  warnings.warn(x)"
    assert failure_cause(["", "   ", "\t"]) == "no output"
    assert failure_cause([]) == "no output"


# ---- environment and ports ---------------------------------------------------------------------------

def test_blenders_python_settings_do_not_reach_the_server():
    env = {"PYTHONPATH": "/blender/numpy", "PYTHONHOME": "/blender", "PYTHONUNBUFFERED": "1",
           "PATH": "/bin", "HOME": "/h", "MY_PYTHON": "kept"}
    assert clean_environment(env) == {"PYTHONUNBUFFERED": "1", "PATH": "/bin", "HOME": "/h", "MY_PYTHON": "kept"}


def test_a_free_port_is_kept_and_a_taken_one_replaced():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        address, changed = free_local_port(f"tcp://127.0.0.1:{port}")
        assert changed and address.startswith("tcp://127.0.0.1:") and address != f"tcp://127.0.0.1:{port}"
        new_port = int(address.rsplit(":", 1)[1])
        assert new_port > 1024                       # one the system handed out, not a guess
        with socket.socket() as s:
            s.bind(("127.0.0.1", new_port))          # really free
        for wildcard in ("*", "0.0.0.0", ""):
            address, changed = free_local_port(f"tcp://{wildcard}:{port}")
            assert changed and address.startswith("tcp://127.0.0.1:")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert free_local_port(f"tcp://127.0.0.1:{free}") == (f"tcp://127.0.0.1:{free}", False)
    assert free_local_port("ipc:///tmp/trackgo") == ("ipc:///tmp/trackgo", False)


def test_a_taken_ipv6_port_is_replaced_in_brackets():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as taken:
        taken.bind(("::1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        address, changed = free_local_port(f"tcp://[::1]:{port}")
    assert changed and address.startswith("tcp://[::1]:") and not address.endswith(f":{port}")


# ---- LocalServer --------------------------------------------------------------------------------------

def test_the_command_runs_the_server_module_with_its_options():
    srv = LocalServer("/py", "tcp://127.0.0.1:5", backend="preview", extra_args=["--log-level", "debug"])
    assert srv.command() == ["/py", "-m", "server", "--bind", "tcp://127.0.0.1:5", "--backend", "preview",
                             "--log-level", "debug"]
    assert LocalServer("/py", "tcp://h:1").command() == ["/py", "-m", "server", "--bind", "tcp://h:1"]
    srv = LocalServer("/py", "tcp://h:1")
    assert srv.status().state == "stopped" and srv.status().message == "local server not started"
    srv.stop()                                   # nothing started: nothing to do
    assert srv.proc is None
    with pytest.raises(ValueError, match=r"^server python: expected the path of the server environment's python$"):
        LocalServer(None, "tcp://h:1")


def test_a_python_that_cannot_run_is_named(tmp_path):
    missing = str(tmp_path / "no-python")
    with pytest.raises(RuntimeError, match=r"^server python: could not start " + repr(missing).replace("\\", "\\\\")
                       + ": "):
        LocalServer(missing, "tcp://127.0.0.1:1").start()


def test_starting_then_ready_then_stopped(tmp_path, monkeypatch):
    cwd = fake_server(tmp_path, (
        "print('args', sys.argv[1:], flush=True)\n"
        "print('env', os.environ.get('TRACKGO_WATCH_STDIN'), os.environ.get('PYTHONUNBUFFERED'),"
        " os.environ.get('PYTHONPATH'), flush=True)\n"
        "sys.stdin.readline()\n"
        f"print('{READY}tcp://127.0.0.1:9', flush=True)\n"
        "sys.stdin.read()\n"))                    # until the launcher closes our stdin
    monkeypatch.setenv("PYTHONPATH", "/blender/modules")
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:9", backend="preview", cwd=cwd, extra_args=["--x"])
    srv.start()
    proc = srv.proc
    try:
        wait_for_lines(srv, 2)
        assert srv.status().state == "starting" and srv.status().message == "local server starting…"
        srv.start()                              # already running: the same process
        assert srv.proc is proc
        assert list(srv.lines) == ["args ['--bind', 'tcp://127.0.0.1:9', '--backend', 'preview', '--x']",
                                   "env 1 1 None"]
        proc.stdin.write("go\n")
        proc.stdin.flush()
        status = srv.wait_ready(30)
        assert status.state == "ready" and status.message == "local server ready on tcp://127.0.0.1:9"
    finally:
        srv.stop()
    assert proc.stdout.closed and srv.proc is None and srv.status().state == "stopped"


def test_an_explicit_environment_is_passed_as_given(tmp_path):
    cwd = fake_server(tmp_path, (
        "print('env', os.environ.get('TRACKGO_WATCH_STDIN'), os.environ.get('PYTHONUNBUFFERED'),"
        " os.environ.get('MARK'), flush=True)\n"))
    env = {"PATH": os.environ.get("PATH", ""), "MARK": "m", "PYTHONUNBUFFERED": "0"}
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:9", cwd=cwd, env=env)
    srv.start()
    status = srv.wait_ready(30)
    assert status.state == "failed" and status.message == "local server exited with code 0: env 1 0 m"
    assert env == {"PATH": os.environ.get("PATH", ""), "MARK": "m", "PYTHONUNBUFFERED": "0"}   # not changed
    srv.stop()


def test_an_exit_is_reported_with_its_code_and_cause(tmp_path):
    cwd = fake_server(tmp_path, (
        "print('loading', flush=True)\n"
        "print('trackgo-server: error: --bind: address in use', flush=True)\n"
        "sys.exit(3)\n"))
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:9", cwd=cwd)
    srv.start()
    status = srv.wait_ready(30)
    srv.stop()
    assert status.state == "failed"
    assert status.message == "local server exited with code 3: --bind: address in use"


def test_a_ready_word_is_not_a_ready_server_and_the_timeout_shows_the_last_lines(tmp_path):
    cwd = fake_server(tmp_path, (
        "for line in ('one', 'two ready', 'three', 'preview backend ready'):\n"
        "    print(line, flush=True)\n"
        f"print(' {READY}indented', flush=True)\n"
        "sys.stdin.read()\n"))
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:9", cwd=cwd)
    srv.start()
    try:
        wait_for_lines(srv, 5)
        status = srv.wait_ready(0.1)
        assert status.state == "failed"
        assert status.message == (f"local server not ready after 0 s: three | preview backend ready | "
                                  f" {READY}indented".rstrip())
    finally:
        srv.stop()


def test_the_timeout_message_says_when_there_was_no_output(tmp_path):
    cwd = fake_server(tmp_path, "sys.stdin.read()\n")
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:9", cwd=cwd)
    srv.start()
    try:
        status = srv.wait_ready(0.1)
        assert status.message == "local server not ready after 0 s: no output"
        assert srv.wait_ready(0).message == "local server not ready after 0 s: no output"
    finally:
        srv.stop()


def test_a_restart_forgets_the_last_runs_lines(tmp_path):
    cwd = fake_server(tmp_path, f"print('{READY}x', flush=True)\nsys.stdin.read()\n")
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:9", cwd=cwd)
    srv.start()
    assert srv.wait_ready(30).state == "ready"
    srv.stop()
    (tmp_path / "server" / "__main__.py").write_text("import sys\nprint('second', flush=True)\nsys.stdin.read()\n")
    srv.start()
    try:
        wait_for_lines(srv, 1)
        assert srv.status().state == "starting" and list(srv.lines) == ["second"]
    finally:
        srv.stop()


def exit_code_after_stop(tmp_path, body: str, **stop_args) -> int:
    """Start a ready stand-in running ``body`` after its ready line, stop it, return its exit code."""
    cwd = fake_server(tmp_path, "import signal, threading\n" f"print('{READY}x', flush=True)\n" + body)
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:9", cwd=cwd)
    srv.start()
    proc = srv.proc
    try:
        assert srv.wait_ready(30).state == "ready"
        srv.stop(**stop_args)
        return proc.returncode
    finally:
        if proc.poll() is None:      # a broken stop() must not leave the stand-in behind
            proc.kill()
            proc.wait()


IGNORE_TERM = "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_closing_its_stdin_tells_the_server_to_go(tmp_path):
    # exits (code 0) only when its stdin closes
    assert exit_code_after_stop(tmp_path, IGNORE_TERM + "sys.stdin.read()\n", grace=30) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_server_that_ignores_terminate_is_killed_after_the_grace(tmp_path):
    # stdin closed: still alive, only a kill ends it
    body = IGNORE_TERM + "sys.stdin.read()\nthreading.Event().wait()\n"
    assert exit_code_after_stop(tmp_path, body, grace=0.5) == -signal.SIGKILL


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_server_that_keeps_running_is_terminated(tmp_path):
    # ignores its stdin closing
    assert exit_code_after_stop(tmp_path, "threading.Event().wait()\n") == -signal.SIGTERM


def test_lines_keep_only_the_last_two_hundred():
    srv = LocalServer("/py", "tcp://h:1")
    assert srv.lines.maxlen == 200 and launcher.LocalServer.READY_PREFIX == "trackgo-server ready on "
