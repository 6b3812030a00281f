"""``trackgo-server`` (also ``python -m server``): the console entry point of the model server.

Start-up order: settings -> security policy -> backend objects -> bind (fails fast when the
port is taken) -> model load (unless --lazy-load) -> workers -> one "ready" line on stdout ->
serve until SIGINT/SIGTERM. Any start-up failure prints one ``trackgo-server: error: ...``
line on stderr and exits non-zero, without a traceback.

Heavy modules (zmq, OpenCV, the backend's torch) are imported only after the flags parsed, so
``--help`` stays instant and never imports torch.
"""
from __future__ import annotations

import logging
import os
import signal
import sys

from server.config import ConfigError, ServerConfig, apply_limits, build_parser, load_config

PROG = "trackgo-server"


class StartupError(Exception):
    """The server cannot start; the message says why and what to change."""


def _plan_function():
    """``server.motion.plan_for_job``: the exact points a job will use (the ``plan`` reply body)."""
    from server.motion import plan_for_job
    return plan_for_job


def build_service(cfg: ServerConfig):
    """Everything but binding and loading: returns (service, backends). Raises StartupError."""
    import shared_protocol as sp
    from server.backends import BackendOptions, UnknownBackend, create_backend
    from server.encoding import FrameEncoder
    from server.security import SecurityError, check_bind_policy, load_curve_keys
    from server.service import Service

    try:
        keys = load_curve_keys(cfg.server_key, cfg.allowed_clients) if cfg.server_key else None
        check_bind_policy(cfg.bind, keys, cfg.insecure)
    except SecurityError as exc:
        raise StartupError(str(exc)) from None

    limits = apply_limits(sp.Limits(), cfg)

    backends = []
    for device in cfg.devices:
        options = BackendOptions(svd_path=cfg.svd_path, adapter_path=cfg.adapter_path, device=device,
                                 dtype=cfg.dtype, cpu_offload=cfg.cpu_offload,
                                 decode_chunk_size=cfg.decode_chunk_size, extra=dict(cfg.backend_options))
        try:
            backend = create_backend(cfg.backend_name, options)
        except UnknownBackend as exc:
            raise StartupError(str(exc)) from None
        except Exception as exc:  # a factory refusing its options (missing weights folder, bad device)
            raise StartupError(f"backend {cfg.backend_name!r}: {exc}") from None
        backend.device = device
        backends.append(backend)

    encoder = FrameEncoder(cfg.encoder_threads, cfg.png_compression)
    description = (getattr(backends[0], "description", "") or "") if backends else ""
    runner = _cluster_runner(cfg, cfg.backend_name) if cfg.cluster else None
    service = Service(bind=cfg.bind, backends=backends, encoder=encoder, limits=limits,
                      queue_length=cfg.queue_length, heartbeat_interval=cfg.heartbeat_interval,
                      heartbeat_liveness=cfg.heartbeat_liveness, loaded=not cfg.lazy_load,
                      backend_descriptions={backends[0].name: description}, plan=_plan_function(),
                      curve_keys=keys, client_quota=cfg.client_quota, runner=runner)
    # In cluster mode the replicas load the backend; this process only builds it to check the options.
    return service, ([] if runner is not None else backends)


def _cluster_runner(cfg: ServerConfig, backend_spec: str):
    """``--cluster``: a RayRunner (the ``.[cluster]`` extra). Raises StartupError if Ray is missing."""
    try:
        import ray.serve  # noqa: F401  (fail here, with the remedy, rather than when the replicas start)

        from server.cluster import ClusterSettings, RayRunner
    except ImportError as exc:
        raise StartupError(f"cluster: {exc.name or 'ray'} is not installed; "
                           "install the cluster extra: pip install 'trackgo-blender[cluster]'") from None
    options = {"svd_path": cfg.svd_path, "adapter_path": cfg.adapter_path, "device": "auto" if cfg.device == "auto"
               else cfg.devices[0], "dtype": cfg.dtype, "cpu_offload": cfg.cpu_offload,
               "decode_chunk_size": cfg.decode_chunk_size, "extra": dict(cfg.backend_options)}
    settings = ClusterSettings(
        address=cfg.cluster, replicas=cfg.cluster_replicas, min_replicas=cfg.cluster_min_replicas,
        max_replicas=cfg.cluster_max_replicas, gpus_per_replica=cfg.cluster_gpus_per_replica,
        cpus_per_replica=cfg.cluster_cpus_per_replica, local_cpus=cfg.cluster_local_cpus,
        local_object_store_mb=cfg.cluster_object_store_mb, backend_options=options,
        png_compression=cfg.png_compression, encoder_threads=cfg.encoder_threads)
    return RayRunner(backend_spec, settings)


def start(cfg: ServerConfig):
    """Build, bind and load; returns a service ready to ``serve()``. Raises StartupError."""
    log = logging.getLogger("trackgo.server")
    service, backends = build_service(cfg)
    try:
        service.bind()
    except OSError as exc:
        service.abort()
        raise StartupError(str(exc)) from None
    if not cfg.lazy_load:
        for backend in backends:
            try:
                backend.load(lambda text: log.info("loading %s: %s", backend.name, text))
            except Exception as exc:
                service.abort()
                raise StartupError(f"backend {backend.name!r} could not load: {exc}") from None
    try:
        service.start_workers()
    except Exception as exc:   # a cluster that cannot be joined or deployed to
        service.abort()
        raise StartupError(f"cluster: cannot start the replicas: {exc}") from None
    return service


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        cfg = load_config(argv, parser=parser)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=cfg.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        service = start(cfg)
    except StartupError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted during start-up", file=sys.stderr)
        return 130

    def stop(signum, _frame):
        logging.getLogger("trackgo.server").info("received %s; shutting down", signal.Signals(signum).name)
        service.request_stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    from server import parent_watch
    parent_watch.install(service.request_stop)  # started by Blender: stop when Blender goes away
    say(f"{PROG} ready on {service.endpoint} (backend {service.backend_name})")
    service.serve()
    say(f"{PROG} stopped")
    return 0


def say(line: str) -> None:
    """One line on stdout; if nobody reads it any more (Blender went away), stay quiet and carry on.

    stdout is pointed at /dev/null after the first broken pipe, so neither this nor the
    interpreter's final flush raises BrokenPipeError and the exit status stays 0.
    """
    try:
        print(line, flush=True)
    except (BrokenPipeError, ValueError, OSError):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
