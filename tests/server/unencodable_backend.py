"""A test backend whose reports cannot all be encoded (an integer beyond msgpack's 64 bits): its
second progress report and its ``Done`` info (its last report carries a message). The service drops a progress message it cannot
encode and ends the job with an ``internal`` error instead of a ``done`` it cannot send.
Plugged in as ``--backend tests.server.unencodable_backend:create``."""
from __future__ import annotations

import numpy as np

from server.backends.base import BackendOptions, Done, Frame, Progress

TOO_BIG = 2 ** 70


class UnencodableBackend:
    name = "unencodable"
    description = "test backend: reports msgpack cannot carry"

    def load(self, report) -> None:
        report("nothing to load")

    def run(self, job, ctx):
        p = job.params
        for i in range(p.frames):
            yield Progress("denoising", TOO_BIG if i == 1 else i + 1, p.frames,
                           message="last step" if i == p.frames - 1 else "")
            yield Frame(i, p.frames, np.zeros((p.height, p.width, 3), np.uint8))
        yield Done({"count": TOO_BIG})


def create(options: BackendOptions) -> UnencodableBackend:
    return UnencodableBackend()
