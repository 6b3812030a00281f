"""Starts a local model server as a separate process and follows its start-up.

The add-on never imports the server: it runs ``<python> -m server --bind ADDRESS ...`` from
the user's server environment, reads its output on a background thread (so Blender's main
thread never blocks on a pipe), reports "ready" when the server says it listens, and stops it
on quit (terminate, then kill after a grace period).
"""
from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass


@dataclass
class LaunchStatus:
    state: str          # "stopped", "starting", "ready", "failed"
    message: str


_WARNING = re.compile(r"(Warning\b|warnings\.warn|^\s+warn|^\s*$)")
_EXCEPTION = re.compile(r"^[\w.]*(Error|Exception|Interrupt)\b.*")


def failure_cause(lines: list[str]) -> str:
    """The real cause of a failed start, first: the server's own ``error:`` line, else the
    exception a traceback ended with, else the last line that is not a library warning."""
    lines = [ln for ln in lines if ln.strip()]
    for pick in (lambda ln: "trackgo-server: error:" in ln, lambda ln: bool(_EXCEPTION.match(ln)),
                 lambda ln: not _WARNING.search(ln)):
        found = [ln for ln in lines if pick(ln)]
        if found:
            return found[-1].split("trackgo-server: error: ", 1)[-1]
    return lines[-1] if lines else "no output"


def clean_environment(environ) -> dict:
    """Blender's environment without its Python settings: the server's own interpreter must not
    load Blender's modules (``PYTHONPATH`` pointed it at Blender's numpy 1.26, and the trackgo
    backend failed) nor take Blender's ``PYTHONHOME``."""
    return {k: v for k, v in environ.items() if not k.startswith("PYTHON") or k == "PYTHONUNBUFFERED"}


def free_local_port(address: str) -> tuple[str, bool]:
    """``address`` if its port can be bound on this machine, else the same host on a free port;
    returns (address, changed). Only for tcp:// addresses of a local server."""
    import socket

    if not address.startswith("tcp://"):
        return address, False
    host, _, port = address[len("tcp://"):].rpartition(":")
    host = host.strip("[]")
    if host in ("*", "0.0.0.0", ""):
        host = "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, int(port)))
            return address, False
        except OSError:
            s.bind((host, 0))
            free = s.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    return f"tcp://{shown}:{free}", True


class LocalServer:
    # The server prints exactly one line starting with this once it listens (server/cli.py).
    # Matching the prefix, not the word, keeps "address already in use" or a backend's
    # "... ready" log line from passing for a listening server.
    READY_PREFIX = "trackgo-server ready on "

    def __init__(self, python: str, address: str, backend: str | None = None,
                 extra_args: list[str] | None = None, cwd: str | None = None,
                 env: dict | None = None):
        if not python:
            raise ValueError("server python: expected the path of the server environment's python")
        self.python, self.address, self.backend = python, address, backend
        self.extra_args = list(extra_args or [])
        self.cwd, self.env = cwd, env
        self.proc: subprocess.Popen | None = None
        self.lines: collections.deque[str] = collections.deque(maxlen=200)
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    def command(self) -> list[str]:
        cmd = [self.python, "-m", "server", "--bind", self.address]
        if self.backend:
            cmd += ["--backend", self.backend]
        return cmd + self.extra_args

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self._ready.clear()
        self.lines.clear()
        env = clean_environment(os.environ) if self.env is None else dict(self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["TRACKGO_WATCH_STDIN"] = "1"  # server/parent_watch.py: our end of stdin closing = we are gone
        try:
            self.proc = subprocess.Popen(
                self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE, cwd=self.cwd, env=env, text=True, bufsize=1,
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0)
        except OSError as exc:
            self.proc = None
            raise RuntimeError(f"server python: could not start {self.python!r}: {exc}") from exc
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:  # ends when the process closes its output
            line = line.rstrip()
            self.lines.append(line)
            if line.startswith(self.READY_PREFIX):
                self._ready.set()

    def status(self) -> LaunchStatus:
        if self.proc is None:
            return LaunchStatus("stopped", "local server not started")
        code = self.proc.poll()
        if code is not None:
            if self._reader is not None:
                self._reader.join(1.0)  # the last lines, said before the process ended
            return LaunchStatus("failed", f"local server exited with code {code}: {failure_cause(list(self.lines))}")
        if self._ready.is_set():
            return LaunchStatus("ready", f"local server ready on {self.address}")
        return LaunchStatus("starting", "local server starting…")

    def wait_ready(self, timeout: float) -> LaunchStatus:
        """Blocking wait (for scripts, tests and the demo; never from a UI timer)."""
        deadline = threading.Event()
        step = 0.05
        waited = 0.0
        while waited < timeout:
            st = self.status()
            if st.state in ("ready", "failed"):
                return st
            deadline.wait(step)
            waited += step
        return LaunchStatus("failed", f"local server not ready after {timeout:.0f} s: "
                            + (" | ".join(list(self.lines)[-3:]) or "no output"))

    def stop(self, grace: float = 3.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin:
            try:
                proc.stdin.close()
            except OSError:
                pass
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(grace)
        if proc.stdout:
            proc.stdout.close()
