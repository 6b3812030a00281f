"""Server settings from four places, later ones winning: defaults < TOML file < TRACKGO_* env < flags.

Every setting is declared once in ``OPTIONS`` (name, type, default, help); the argparse flag
(``--queue-length``), the environment variable (``TRACKGO_QUEUE_LENGTH``) and the TOML key
(``queue_length`` or ``queue-length``) are all derived from that name. Bad values raise
``ConfigError`` naming the setting, where it came from and what was expected.

Torch-free and light: ``trackgo-server --help`` imports only this module.
"""
from __future__ import annotations

import argparse
import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

DEFAULT_BIND = "tcp://127.0.0.1:5555"
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """A setting is missing, unknown or has the wrong type/range."""


@dataclass(frozen=True)
class Option:
    name: str
    kind: str           # "str", "int", "float", "bool", "path"
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None


OPTIONS: tuple[Option, ...] = (
    Option("bind", "str", DEFAULT_BIND, "ZeroMQ address to listen on (loopback by default)"),
    Option("backend", "str", "", "backend: preview, trackgo, trackgo-tiny, dualclock or module:factory "
           "(default: trackgo when --svd-path and --adapter-path are set, else preview)"),
    Option("svd_path", "path", None, "folder of the Stable Video Diffusion (XT) weights (diffusers layout)"),
    Option("adapter_path", "path", None, "folder of the TrackGo adapter weights"),
    Option("device", "str", "auto", "device(s) to run on: auto, cpu, cuda, cuda:1, mps; "
           "a comma-separated list runs one worker per device"),
    Option("dtype", "str", "auto", "model precision", choices=("auto", "float16", "bfloat16", "float32")),
    Option("cpu_offload", "bool", False, "keep model parts on the CPU until needed (less VRAM, slower)"),
    Option("decode_chunk_size", "int", 8, "frames decoded by the VAE at once (lower = less VRAM)", minimum=1),
    Option("lazy_load", "bool", False, "load the model on the first job instead of at start-up"),
    Option("queue_length", "int", 32, "jobs queued or running at most, all clients together (announced "
           "as welcome.limits.max_queue); more are rejected with queue_full", minimum=1, maximum=10_000),
    Option("client_quota", "int", 8, "jobs queued or running at most per client, so one client cannot "
           "take the whole queue (capped at queue_length)", minimum=1, maximum=10_000),
    Option("max_frames", "int", 0, "largest frame count a job may ask for (0: protocol default)", minimum=0),
    Option("max_width", "int", 0, "largest output width (0: protocol default)", minimum=0),
    Option("max_height", "int", 0, "largest output height (0: protocol default)", minimum=0),
    Option("max_message_bytes", "int", 0, "largest incoming message in bytes (0: protocol default)", minimum=0),
    Option("png_compression", "int", 1, "PNG compression level of streamed frames (0 fastest .. 9 smallest)",
           minimum=0, maximum=9),
    Option("encoder_threads", "int", 0, "threads encoding frames (0: automatic)", minimum=0, maximum=64),
    Option("heartbeat_interval", "float", 1.0, "seconds between heartbeats (sent in the welcome)",
           minimum=0.05, maximum=3600),
    Option("heartbeat_liveness", "int", 30, "silent heartbeat intervals after which a still-connected "
           "client is gone (a closed one is noticed within one interval)", minimum=2, maximum=100_000),
    Option("server_key", "path", None, "CURVE secret key file of the server (trackgo-keygen)"),
    Option("allowed_clients", "path", None, "folder of allowed client public keys (*.key)"),
    Option("insecure", "bool", False, "allow a non-loopback bind without CURVE keys (anyone can connect)"),
    Option("log_level", "str", "info", "log verbosity (logs go to stderr)", choices=LOG_LEVELS),
    # ---- cluster mode (docs/server.md, "Studio scale"): jobs run on Ray Serve replicas ----
    Option("cluster", "str", "", "run jobs on a Ray cluster: 'ray' (the cluster this machine joined with "
           "`ray start`, else a local one), 'local' (a private local Ray) or 'ray://HEAD:10001'; "
           "empty: this process's devices"),
    Option("cluster_replicas", "int", 1, "replicas of the backend (each loads it once)", minimum=1, maximum=10_000),
    Option("cluster_min_replicas", "int", 0, "autoscaling: fewest replicas (with cluster_max_replicas)",
           minimum=0, maximum=10_000),
    Option("cluster_max_replicas", "int", 0, "autoscaling: most replicas; 0 = fixed cluster_replicas",
           minimum=0, maximum=10_000),
    Option("cluster_gpus_per_replica", "float", 1.0, "GPUs each replica reserves (0.5: two per GPU; "
           "0 on CPU-only machines)", minimum=0.0, maximum=64),
    Option("cluster_cpus_per_replica", "float", 1.0, "CPUs each replica reserves", minimum=0.0, maximum=1024),
    Option("cluster_local_cpus", "int", 0, "with cluster 'local': CPUs its Ray may use (0: all)",
           minimum=0, maximum=4096),
    Option("cluster_object_store_mb", "int", 0, "with cluster 'local': its object store in MiB "
           "(0: Ray decides)", minimum=0, maximum=1_000_000),
)
OPTION_BY_NAME = {o.name: o for o in OPTIONS}


@dataclass(frozen=True)
class ServerConfig:
    bind: str = DEFAULT_BIND
    backend: str = ""
    svd_path: str | None = None
    adapter_path: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    cpu_offload: bool = False
    decode_chunk_size: int = 8
    lazy_load: bool = False
    queue_length: int = 32
    client_quota: int = 8
    max_frames: int = 0
    max_width: int = 0
    max_height: int = 0
    max_message_bytes: int = 0
    png_compression: int = 1
    encoder_threads: int = 0
    heartbeat_interval: float = 1.0
    heartbeat_liveness: int = 30
    server_key: str | None = None
    allowed_clients: str | None = None
    insecure: bool = False
    log_level: str = "info"
    cluster: str = ""
    cluster_replicas: int = 1
    cluster_min_replicas: int = 0
    cluster_max_replicas: int = 0
    cluster_gpus_per_replica: float = 1.0
    cluster_cpus_per_replica: float = 1.0
    cluster_local_cpus: int = 0
    cluster_object_store_mb: int = 0
    backend_options: dict[str, str] = field(default_factory=dict)

    @property
    def backend_name(self) -> str:
        """The backend to run: explicit, else trackgo when weights are configured, else preview."""
        if self.backend:
            return self.backend
        return "trackgo" if (self.svd_path and self.adapter_path) else "preview"

    @property
    def devices(self) -> list[str]:
        return [d.strip() for d in self.device.split(",") if d.strip()] or ["auto"]


def _convert(opt: Option, raw: Any, source: str) -> Any:
    where = f"{opt.name} (from {source})"
    try:
        if opt.kind == "bool":
            if isinstance(raw, bool):
                value = raw
            elif isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on"):
                value = True
            elif isinstance(raw, str) and raw.strip().lower() in ("0", "false", "no", "off", ""):
                value = False
            else:
                raise ValueError
        elif opt.kind == "int":
            if isinstance(raw, bool) or isinstance(raw, float):
                raise ValueError
            value = int(raw)
        elif opt.kind == "float":
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
            if not math.isfinite(value):  # nan passes every range check: refuse it here
                raise ValueError
        else:
            if not isinstance(raw, str):
                raise ValueError
            value = raw
    except (TypeError, ValueError):
        expected = {"bool": "true or false", "int": "an integer", "float": "a number"}.get(opt.kind, "a string")
        raise ConfigError(f"{where}: expected {expected}, got {raw!r}") from None
    if opt.choices and value not in opt.choices:
        raise ConfigError(f"{where}: expected one of {', '.join(opt.choices)}, got {value!r}")
    if opt.minimum is not None and value < opt.minimum:
        raise ConfigError(f"{where}: expected at least {opt.minimum}, got {value!r}")
    if opt.maximum is not None and value > opt.maximum:
        raise ConfigError(f"{where}: expected at most {opt.maximum}, got {value!r}")
    if opt.kind == "path" and value is not None:
        value = os.path.expanduser(value)
    return value


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="trackgo-server",
        description="TrackGo model server: queues jobs from Blender over ZeroMQ, runs a backend, streams frames.",
        epilog="Every flag also reads from TRACKGO_<NAME> (e.g. TRACKGO_QUEUE_LENGTH=8) and from the "
               "TOML file given with --config (keys like queue_length); flags win over env over file. "
               "See docs/server.md.")
    ap.add_argument("--config", metavar="FILE", help="TOML file with settings (env: TRACKGO_CONFIG)")
    for opt in OPTIONS:
        flag = "--" + opt.name.replace("_", "-")
        env = "TRACKGO_" + opt.name.upper()
        if opt.kind == "bool":
            ap.add_argument(flag, dest=opt.name, action=argparse.BooleanOptionalAction, default=None,
                            help=f"{opt.help} (env {env})")
        else:
            ap.add_argument(flag, dest=opt.name, default=None, metavar=opt.name.upper(),
                            choices=opt.choices,
                            help=f"{opt.help}; default {opt.default!r} (env {env})")
    ap.add_argument("--backend-option", dest="backend_option", action="append", default=[], metavar="KEY=VALUE",
                    help="extra setting passed to the backend factory (repeatable)")
    return ap


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config: no such file {path!r}") from None
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path!r} ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path!r} is not valid TOML ({exc})") from None
    table = data.get("server", data)  # a [server] table or top-level keys
    if not isinstance(table, dict):
        raise ConfigError(f"config: [server] in {path!r} must be a table")
    return table


def load_config(argv: list[str] | None = None, environ: Mapping[str, str] | None = None,
                parser: argparse.ArgumentParser | None = None) -> ServerConfig:
    """Parse flags, env vars and the optional TOML file into a ServerConfig."""
    environ = os.environ if environ is None else environ
    args = (parser or build_parser()).parse_args(argv)
    values: dict[str, Any] = {o.name: o.default for o in OPTIONS}
    backend_options: dict[str, str] = {}

    config_path = args.config or environ.get("TRACKGO_CONFIG")
    if config_path:
        source = f"config file {config_path}"
        for key, raw in _read_toml(config_path).items():
            name = key.replace("-", "_")
            if name == "backend_options" and isinstance(raw, dict):
                backend_options.update({str(k): str(v) for k, v in raw.items()})
                continue
            opt = OPTION_BY_NAME.get(name)
            if opt is None:
                known = ", ".join(o.name for o in OPTIONS)
                raise ConfigError(f"{key} (from {source}): unknown setting; expected one of {known}")
            values[name] = _convert(opt, raw, source)

    for opt in OPTIONS:
        env = "TRACKGO_" + opt.name.upper()
        if env in environ:
            values[opt.name] = _convert(opt, environ[env], f"environment {env}")

    for opt in OPTIONS:
        raw = getattr(args, opt.name)
        if raw is not None:
            values[opt.name] = _convert(opt, raw, "--" + opt.name.replace("_", "-"))

    for item in args.backend_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--backend-option: expected KEY=VALUE, got {item!r}")
        backend_options[key] = value

    cluster = values["cluster"]
    if cluster and cluster not in ("ray", "local") and not cluster.startswith("ray://"):
        raise ConfigError(f"cluster: expected 'ray', 'local' or 'ray://HEAD:PORT', got {cluster!r}")
    if values["cluster_max_replicas"] and values["cluster_min_replicas"] > values["cluster_max_replicas"]:
        raise ConfigError(f"cluster_min_replicas: expected at most cluster_max_replicas "
                          f"({values['cluster_max_replicas']}), got {values['cluster_min_replicas']}")
    if bool(values["server_key"]) != bool(values["allowed_clients"]):
        raise ConfigError("server_key and allowed_clients: give both (CURVE needs the server's secret key "
                          "and the folder of allowed client keys) or neither")
    known = {f.name for f in fields(ServerConfig)}
    return ServerConfig(**{k: v for k, v in values.items() if k in known}, backend_options=backend_options)


def apply_limits(limits: Any, cfg: ServerConfig) -> Any:
    """Return a copy of the protocol ``Limits`` with this server's overrides (non-zero settings)."""
    import dataclasses

    overrides = {name: getattr(cfg, name) for name in ("max_frames", "max_width", "max_height", "max_message_bytes")
                 if getattr(cfg, name)}
    overrides["max_queue"] = cfg.queue_length
    known = {f.name for f in dataclasses.fields(limits)}
    return dataclasses.replace(limits, **{k: v for k, v in overrides.items() if k in known})
