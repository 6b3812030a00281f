"""The test backend of the cluster tests: the solid-colour one, plus two things a replica does
that the tests must observe from outside its process.

* seed ``DIE_SEED``: the replica process exits (``os._exit``) after its first frame, as a machine
  that loses power would;
* option ``marks``: a folder where each job that saw its cancel flag writes ``<job id>.cancelled``.
"""
from __future__ import annotations

import os
from pathlib import Path

from server.backends.base import BackendOptions
from tests.server.fake_backend import create as create_solid

DIE_SEED = 4242


class ClusterTestBackend:
    def __init__(self, options: BackendOptions) -> None:
        self.inner = create_solid(options)
        self.name = self.inner.name
        self.description = self.inner.description
        self.marks = options.extra.get("marks")

    def load(self, report) -> None:
        self.inner.load(report)

    def run(self, job, ctx):
        try:
            for i, event in enumerate(self.inner.run(job, ctx)):
                yield event
                if ctx.seed == DIE_SEED and i >= 1:
                    os._exit(17)
        finally:   # also when the runner closes this generator after the cancel
            if ctx.cancelled() and self.marks:
                Path(self.marks, f"{ctx.job_id}.cancelled").write_text("seen")


def create(options: BackendOptions) -> ClusterTestBackend:
    return ClusterTestBackend(options)
