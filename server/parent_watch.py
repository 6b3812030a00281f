"""Exit with the program that started us: a local server must not outlive Blender.

Blender's add-on starts the server with a pipe on its stdin and sets ``TRACKGO_WATCH_STDIN=1``.
It never writes to the pipe; when Blender goes away — quit, crash or kill — the operating system
closes the pipe, the read here sees end-of-file, and the server stops as on SIGTERM (releasing its
port and, with a model loaded, the GPU). Works the same on Linux, macOS and Windows.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

ENV = "TRACKGO_WATCH_STDIN"


def install(on_parent_gone, stream=None) -> threading.Thread | None:
    """Start watching when the environment asks for it; returns the watcher thread (or None)."""
    if os.environ.get(ENV) != "1":
        return None
    stream = stream if stream is not None else sys.stdin.buffer

    def watch():
        try:
            while stream.read(4096):
                pass  # nothing is ever sent; data would only be ignored
        except (OSError, ValueError):
            pass
        logging.getLogger("trackgo.server").warning("the program that started this server is gone; stopping")
        on_parent_gone()

    thread = threading.Thread(target=watch, name="trackgo-parent-watch", daemon=True)
    thread.start()
    return thread
