"""``RayRunner``: the front's "where jobs run" on a Ray Serve deployment.

The front hands a job over only while a replica slot is free (``has_room``), so jobs wait in
the front's fair queue, never in Serve's. Each running job has one thread here that iterates the
replica's stream (``handle.options(stream=True)``) and posts its events as they come; a cancel
from the front cancels the Serve request; a replica that dies mid-job ends that job with one
``worker_lost`` error while the others carry on, and Serve starts a new replica. A front
connected through Ray Client (``ray://``), where streaming handles do not work, reads the streams
through a relay actor in the cluster (``server.cluster.relay``).
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from server.job_events import FinalPosted, RunningJob, SlotFree

log = logging.getLogger("trackgo.server.cluster")

APP_NAME = "trackgo"
DEPLOYMENT_NAME = "TrackGoReplica"
# How often the replica count in status_reply is refreshed (a Serve controller call).
STATUS_REFRESH_S = 2.0
# Ray Client: how long one call to the relay waits for the next batch when none is there.
RELAY_WAIT_S = 1.0
# Ray starts its worker processes at niceness 15 (its `worker_niceness`), as background batch
# work: a replica is the server's job runner, and at 15 any busy process on its machine would
# starve it (and the GPU it feeds). The raylet starts a worker whose environment says 0 at the
# raylet's own priority.
REPLICA_ENV = {"RAY_worker_niceness": "0"}
# Ray Client's head starts one server process per connecting client; on a busy head that start can
# fail once ("Initialization failure from server", a SpecificServer that died while starting),
# while the next connection works. The front tries this many times before it gives up.
RAY_CLIENT_ATTEMPTS = 3


@dataclass(frozen=True)
class ClusterSettings:
    """How the cluster is reached and how the deployment is shaped (server config: cluster_*)."""

    address: str = "ray"                 # "ray": this machine's cluster (or a new local one); "local": a
                                         # private local one; "ray://HEAD:PORT": Ray Client
    replicas: int = 1                    # fixed replica count when no autoscaling bounds are set
    min_replicas: int = 0                # autoscaling bounds; max_replicas > 0 turns autoscaling on
    max_replicas: int = 0
    gpus_per_replica: float = 1.0
    cpus_per_replica: float = 1.0
    local_cpus: int = 0                  # address "local": CPUs its Ray may use (0: Ray decides)
    local_object_store_mb: int = 0       # ... and its object store (0: Ray decides)
    backend_options: dict = field(default_factory=dict)
    png_compression: int = 1
    encoder_threads: int = 0             # PNG encoder threads per replica (0: by the replica machine's CPUs)

    @property
    def slots(self) -> int:
        """Jobs the front keeps running at once: one per replica (the most there may be)."""
        return self.max_replicas if self.max_replicas > 0 else self.replicas


class ReplicaLost(RuntimeError):
    """The relay saw the job's stream fail (its replica died)."""


def worker_lost_body(exc: BaseException) -> dict:
    return {"code": "worker_lost", "field": None,
            "message": f"the cluster replica running this job stopped mid-job "
                       f"({exc if isinstance(exc, ReplicaLost) else type(exc).__name__})",
            "hint": "submit the job again; the cluster starts a new replica on its own"}


class RayRunner:
    kind = "ray"

    def __init__(self, backend_name: str, settings: ClusterSettings) -> None:
        self.backend_name = backend_name
        self.settings = settings
        self._post: Callable[[object], None] = lambda item: None
        self._handle = None
        self._relay = None                  # Ray Client only: server.cluster.relay.StreamRelay
        self._started_ray = False
        self._running: dict[str, RunningJob] = {}
        self._lock = threading.Lock()
        self._cancels = ThreadPoolExecutor(max_workers=2, thread_name_prefix="trackgo-ray-cancel")
        self._replicas_seen: int | None = None
        self._status_at = 0.0

    # ---- start / stop ------------------------------------------------------------------------
    def start(self, post: Callable[[object], None]) -> None:
        """Join (or start) Ray, deploy the replicas and wait until they are up (models loaded)."""
        import ray
        from ray import serve

        from server.cluster.replica import TrackGoReplica

        self._post = post
        s = self.settings
        if not ray.is_initialized():
            kwargs: dict = {"include_dashboard": False, "log_to_driver": False}
            if s.address.startswith("ray://"):
                kwargs["address"] = s.address
            elif s.address == "local":        # a private Ray of our own, whatever else runs here
                kwargs["address"] = "local"
                if s.local_cpus:
                    kwargs["num_cpus"] = s.local_cpus
                if s.local_object_store_mb:
                    kwargs["object_store_memory"] = s.local_object_store_mb * 1024 * 1024
            # "ray": the cluster this machine joined with `ray start` (RAY_ADDRESS), else a new local one
            self._init_ray(ray, kwargs)
            self._started_ray = True
        serve.start(proxy_location="Disabled")     # no HTTP: the ZeroMQ front is the only door
        options: dict = {"name": DEPLOYMENT_NAME, "max_ongoing_requests": 1,
                         "ray_actor_options": {"num_gpus": s.gpus_per_replica, "num_cpus": s.cpus_per_replica,
                                               "runtime_env": {"env_vars": REPLICA_ENV}}}
        if s.max_replicas > 0:
            options["autoscaling_config"] = {"min_replicas": s.min_replicas, "max_replicas": s.max_replicas,
                                             "target_ongoing_requests": 1}
        else:
            options["num_replicas"] = s.replicas
        deployment = serve.deployment(TrackGoReplica).options(**options)
        app = deployment.bind(self.backend_name, dict(s.backend_options), s.png_compression, s.encoder_threads)
        handle = serve.run(app, name=APP_NAME, route_prefix=None)
        if ray.util.client.ray.is_connected():
            # Ray Client refuses streaming handles: a relay in the cluster reads the streams.
            from server.cluster.relay import StreamRelay
            self._relay = ray.remote(StreamRelay).options(
                num_cpus=0, runtime_env={"env_vars": REPLICA_ENV}).remote(APP_NAME)
            self._handle = handle
        else:
            self._handle = handle.options(stream=True)
        log.info("cluster: %s replica(s) of %s deployed", s.slots, self.backend_name)

    @staticmethod
    def _init_ray(ray, kwargs: dict) -> None:
        """``ray.init``; on a ``ray://`` address, up to RAY_CLIENT_ATTEMPTS tries when the head
        refuses the connection while starting its server for this client (logged each time)."""
        attempts = RAY_CLIENT_ATTEMPTS if str(kwargs.get("address", "")).startswith("ray://") else 1
        for attempt in range(1, attempts + 1):
            try:
                ray.init(**kwargs)
                return
            except ConnectionAbortedError as exc:
                if attempt == attempts:
                    raise
                log.warning("cluster: %s refused the connection (attempt %d of %d), trying again: %s",
                            kwargs["address"], attempt, attempts, str(exc).splitlines()[0])
                time.sleep(2.0 * attempt)

    def stop(self, timeout: float) -> None:
        with self._lock:
            running = list(self._running.values())
        for item in running:
            item.ctx.cancel()
        self._cancels.shutdown(wait=False, cancel_futures=True)
        try:
            if self._relay is not None:
                import ray
                ray.kill(self._relay)
                self._relay = None
            if self._handle is not None:
                from ray import serve
                serve.delete(APP_NAME)
                self._handle = None
                if self._started_ray:
                    serve.shutdown()
            if self._started_ray:
                import ray
                ray.shutdown()
                self._started_ray = False
        except Exception:   # a cluster already gone must not make shutdown fail
            log.exception("cluster: clean-up failed")

    # ---- the runner interface ----------------------------------------------------------------
    def has_room(self) -> bool:
        return self._handle is not None and len(self._running) < self.settings.slots

    def all_busy(self) -> bool:
        return len(self._running) >= self.settings.slots

    def ready(self) -> bool:
        return self._handle is not None

    def assign(self, item: RunningJob) -> None:
        with self._lock:
            self._running[item.job_id] = item
        threading.Thread(target=self._stream, args=(item,), name=f"trackgo-ray-{item.job_id[:8]}",
                         daemon=True).start()

    def slot_free(self, item: SlotFree) -> None:
        with self._lock:
            self._running.pop(item.slot, None)

    def describe(self) -> dict:
        s = self.settings
        replicas = self._replica_count()
        return {"mode": "ray", "replicas": replicas, "busy": len(self._running), "slots": s.slots,
                "gpus": s.gpus_per_replica * replicas if replicas is not None else None,
                "min_replicas": s.min_replicas if s.max_replicas else s.replicas,
                "max_replicas": s.max_replicas or s.replicas}

    # ---- one job's stream -------------------------------------------------------------------
    def _stream(self, item: RunningJob) -> None:
        job_id = item.job_id
        final_seen = False
        ended = threading.Event()
        try:
            request = (item.job, job_id, item.ctx.seed, time.monotonic() - item.accepted_at)
            if self._relay is None:
                response = self._handle.run.remote(*request)
                cancel, batches = response.cancel, iter(response)
            else:
                batches = self._relayed(request)
                next(batches)                           # the relay has started the request
                relay = self._relay
                def cancel():
                    relay.cancel.remote(job_id)
            # Off the I/O thread: cancel may wait for the request's replica assignment.
            item.ctx.on_cancel(lambda: None if ended.is_set() else self._cancels.submit(cancel))
            for batch in batches:           # one stream item: the events the replica had ready
                for event in batch:
                    final_seen = final_seen or isinstance(event, FinalPosted)
                    self._post(event)
        except Exception as exc:
            if not item.ctx.cancelled():
                log.error("cluster: job %s lost its replica: %r", job_id, exc)
                self._post(FinalPosted(job_id, "error", worker_lost_body(exc), -1))
        else:
            if not final_seen and not item.ctx.cancelled():
                self._post(FinalPosted(job_id, "error", worker_lost_body(RuntimeError("stream ended early")), -1))
        finally:
            ended.set()
            self._post(SlotFree(job_id))

    def _relayed(self, request: tuple):
        """Ray Client: the job's stream through the relay (first yields None once it has started)."""
        import ray

        from server.cluster.relay import END, LOST
        relay = self._relay
        ray.get(relay.start.remote(*request))
        yield None
        job_id = request[1]
        while True:
            for entry in ray.get(relay.take.remote(job_id, RELAY_WAIT_S)):
                if isinstance(entry, tuple) and entry[0] == LOST:
                    raise ReplicaLost(entry[1])
                if entry == END:
                    return
                yield entry

    def _replica_count(self) -> int | None:
        """Running replicas, from Serve's status (refreshed at most every STATUS_REFRESH_S)."""
        now = time.monotonic()
        if now - self._status_at >= STATUS_REFRESH_S:
            self._status_at = now
            try:
                from ray import serve
                app = serve.status().applications.get(APP_NAME)
                deployment = app.deployments.get(DEPLOYMENT_NAME) if app else None
                if deployment is not None:
                    self._replicas_seen = int(deployment.replica_states.get("RUNNING", 0))
            except Exception:
                log.debug("cluster: status unavailable", exc_info=True)
        return self._replicas_seen
