"""The launcher's start-up reading (``blender_addon.io.launcher``) at its edges: an error line
that quotes the server's own prefix, output made only of warnings, and ``wait_ready`` looking
again soon after a first "starting" (a scripted status, so no process and no timing); stderr
read with stdout, a failed start, the bounded wait for the last lines, quitting without stop."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from blender_addon.io.launcher import LaunchStatus, LocalServer, failure_cause
from tests.addon_io.test_launcher import fake_server


def test_the_error_line_is_cut_after_the_first_prefix_only():
    line = "trackgo-server: error: --bind 'trackgo-server: error: x' is not an address"
    assert failure_cause(["noise", line]) == "--bind 'trackgo-server: error: x' is not an address"


def test_output_of_only_warnings_gives_the_last_line():
    lines = ["UserWarning: one", "UserWarning: two", "  warnings.warn(x)"]
    assert failure_cause(lines) == "  warnings.warn(x)"


def test_wait_ready_looks_again_every_twentieth_of_a_second():
    # "starting" first, "ready" at the second look: a wait of 0.2 s looks at least twice
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:9")
    answers = [LaunchStatus("starting", "local server starting…"), LaunchStatus("ready", "ready here")]
    looks = []

    def status():
        looks.append(len(looks))
        return answers[min(len(looks) - 1, 1)]

    srv.status = status
    assert srv.wait_ready(0.2) == answers[1]
    assert looks == [0, 1]


def test_wait_ready_looks_at_once():
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:9")
    srv.status = lambda: LaunchStatus("failed", "local server exited with code 2: bad flag")
    assert srv.wait_ready(0.5).message == "local server exited with code 2: bad flag"


# ---- with stand-in servers (a ``server`` package run as ``python -m server``) --------------------

WAIT_S = 60.0   # bound on waits for a stand-in that ends much sooner


def test_what_the_server_writes_to_stderr_is_read_too(tmp_path):
    # argparse's "trackgo-server: error:" lines go to stderr
    cwd = fake_server(tmp_path, "sys.stderr.write('trackgo-server: error: --bind: bad\\n')\nsys.exit(2)\n")
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:9", cwd=cwd)
    srv.start()
    try:
        assert srv.wait_ready(WAIT_S).message == "local server exited with code 2: --bind: bad"
    finally:
        srv.stop()


def test_a_start_that_failed_leaves_no_process(tmp_path):
    srv = LocalServer(str(tmp_path / "no-python"), "tcp://127.0.0.1:9")
    with pytest.raises(RuntimeError):
        srv.start()
    assert srv.proc is None
    assert srv.status() == LaunchStatus("stopped", "local server not started")
    srv.stop()


class _Reader:
    """Stands in for the reader thread: its join delivers the line the process said last."""

    def __init__(self, srv):
        self.srv, self.timeouts = srv, []

    def join(self, timeout=None):
        self.timeouts.append(timeout)
        self.srv.lines.append("trackgo-server: error: said last")


def test_an_exit_waits_a_bounded_time_for_the_last_lines(tmp_path):
    cwd = fake_server(tmp_path, "sys.exit(4)\n")
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:9", cwd=cwd)
    srv.start()
    try:
        srv.proc.wait(WAIT_S)
        srv._reader.join(WAIT_S)
        reader = srv._reader = _Reader(srv)
        assert srv.status().message == "local server exited with code 4: said last"
        assert len(reader.timeouts) == 1 and reader.timeouts[0] is not None and reader.timeouts[0] > 0
    finally:
        srv.stop()


SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from blender_addon.io.launcher import LocalServer
srv = LocalServer(sys.executable, "tcp://127.0.0.1:9", cwd=sys.argv[2])
srv.start()
print(srv.wait_ready(60).state, flush=True)
# ends without srv.stop(), as Blender quitting does
"""


def test_quitting_without_stop_does_not_wait_for_the_server(tmp_path):
    """The line reader is a daemon thread: a Blender that quits without stopping the server is not
    held by it (the server then sees its stdin close and goes)."""
    import blender_addon

    cwd = fake_server(tmp_path, f"print({LocalServer.READY_PREFIX!r} + 'x', flush=True)\nsys.stdin.read()\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(blender_addon.__file__)))
    # here first (so a mutation-test run, which only records calls made in-process, knows that
    # this test starts a server): the stand-in is ready, and stop() ends it
    here = LocalServer(sys.executable, "tcp://127.0.0.1:9", cwd=cwd)
    here.start()
    try:
        assert here.wait_ready(WAIT_S).state == "ready" and here._reader.daemon
    finally:
        here.stop()
    done = subprocess.run([sys.executable, "-c", SCRIPT, root, cwd], capture_output=True, text=True,
                          timeout=WAIT_S)
    assert (done.returncode, done.stdout) == (0, "ready\n"), done.stderr
