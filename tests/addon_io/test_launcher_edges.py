"""The launcher's start-up reading (``blender_addon.io.launcher``) at its edges: an error line
that quotes the server's own prefix, output made only of warnings, and ``wait_ready`` looking
again soon after a first "starting" (a scripted status, so no process and no timing)."""
from __future__ import annotations

import sys

from blender_addon.io.launcher import LaunchStatus, LocalServer, failure_cause


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
