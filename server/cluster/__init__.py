"""Cluster mode: jobs run on Ray Serve replicas, on as many GPU machines as join the Ray cluster.

The ZeroMQ front (``server.service``), its protocol, CURVE, fair queue and quotas stay exactly as
they are; only where jobs run changes (``RayRunner``, a ``server.runners.JobRunner``). Imported
only with ``--cluster`` (needs the ``.[cluster]`` extra: ``ray[serve]``).
"""
from server.cluster.runner import ClusterSettings, RayRunner

__all__ = ["ClusterSettings", "RayRunner"]
