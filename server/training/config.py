"""Training configuration: a TOML file (paper defaults in ``configs/paper.toml``) + overrides.

Every key is checked against the dataclasses below, so a typo is an error naming the key,
never a silently ignored setting.
"""
from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

CONFIG_DIR = Path(__file__).parent / "configs"
LR_SCHEDULES = ("constant", "cosine", "linear")


@dataclass(frozen=True)
class ModelConfig:
    svd: str = ""                      # local diffusers SVD(-XT) folder (model_index.json, ...)
    adapter: str = ""                  # optional TrackAdapter folder to start from
    condition_channels: int = 320
    alpha: float = 0.2                 # Eq. 3 threshold
    # Also train copies of SVD's own temporal W_q / W_k (the original branch): Eq. 9 minimises
    # L_attn, which penalises that branch's map, over the trained weights (docs/training.md).
    tune_svd_query_key: bool = True
    # Also train copies of SVD's temporal layers: Eq. 5/9's theta read as "the U-Net's parameters"
    # (docs/model.md, ambiguity 10). Saved next to the adapter as svd_temporal.safetensors.
    tune_svd_temporal: bool = True


@dataclass(frozen=True)
class DataConfig:
    dataset: str = ""                  # trackgo-prepare output folder
    frames: int = 25
    width: int = 1024
    height: int = 576
    num_workers: int = 2
    # Keep each clip's VAE posterior (mean, log-variance) in memory after its first encode: later
    # steps draw the latent from it with the same generator, so the losses are bit-identical and
    # the per-step VAE encode of the frames is skipped. Memory: 2 x frames x 4 x H/8 x W/8 floats
    # per clip (7 MB at 25 x 1024x576): for small datasets (tests, benchmarks), not 110K clips.
    cache_latents: bool = False


@dataclass(frozen=True)
class ConditioningConfig:
    fps: int = 7                       # the pipeline passes fps - 1 as the first added time id
    motion_bucket_id: int = 127
    noise_aug_strength: float = 0.02


@dataclass(frozen=True)
class NoiseConfig:
    p_mean: float = 0.7
    p_std: float = 1.6


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 18000
    batch_size: int = 8                # global batch: per-process batch x processes x accumulation
    gradient_accumulation_steps: int = 1
    learning_rate: float = 3e-5
    svd_query_key_learning_rate: float = 1e-5   # the fine-tuned copies of SVD's W_q / W_k
    svd_temporal_learning_rate: float = 1e-5    # the tuned copies of SVD's temporal layers
    weight_decay: float = 1e-2
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    # ours (the paper gives a constant rate): "constant", or "cosine" / "linear" decay to 0 over
    # train.steps, after lr_warmup_steps of linear warm-up (diffusers.optimization.get_scheduler)
    lr_schedule: str = "constant"
    lr_warmup_steps: int = 0
    lambda_attn: float = 0.1
    blank_trajectories: bool = False   # the control twin: every P black (docs/training.md)
    mixed_precision: str = "bf16"      # no | fp16 | bf16
    gradient_checkpointing: bool = True
    seed: int = 42
    checkpoint_every: int = 1000
    log_every: int = 10


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return asdict(self)


class ConfigError(ValueError):
    """A config file or override names an unknown key or holds a value of the wrong type."""


def _section(cls, values: dict, where: str):
    known = {f.name: f for f in fields(cls)}
    out = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown setting (expected one of {', '.join(known)})")
        default = getattr(cls(), key)
        if isinstance(default, bool) != isinstance(value, bool) or (
                isinstance(default, (int, float)) and not isinstance(value, (int, float))) or (
                isinstance(default, str) and not isinstance(value, str)):
            raise ConfigError(f"{where}.{key}: expected {type(default).__name__}, got {value!r}")
        out[key] = float(value) if isinstance(default, float) else value
    return cls(**out)


def from_dict(data: dict) -> Config:
    sections = {f.name: f.type for f in fields(Config)}
    kwargs = {}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"{name}: unknown section (expected one of {', '.join(sections)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{name}: expected a table")
        kwargs[name] = _section(type(getattr(Config(), name)), values, name)
    config = Config(**kwargs)
    check(config)
    return config


def load(path: str | Path | None, overrides: list[str] = ()) -> Config:
    """Read ``path`` (default: the paper config) and apply ``section.key=value`` overrides."""
    path = Path(path) if path else CONFIG_DIR / "paper.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config: file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path}: invalid TOML ({exc})") from exc
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or key.count(".") != 1:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        section, name = key.split(".")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw                                   # bare strings (paths) need no quotes
        data.setdefault(section, {})[name] = value
    return from_dict(data)


def check(config: Config) -> None:
    d, t = config.data, config.train
    for name in ("width", "height"):
        if getattr(d, name) % 64 or getattr(d, name) < 64:
            raise ConfigError(f"data.{name}: expected a positive multiple of 64, got {getattr(d, name)}")
    if t.mixed_precision not in ("no", "fp16", "bf16"):
        raise ConfigError(f"train.mixed_precision: expected no, fp16 or bf16, got {t.mixed_precision!r}")
    for name in ("steps", "batch_size", "gradient_accumulation_steps", "checkpoint_every", "log_every"):
        if getattr(t, name) < 1:
            raise ConfigError(f"train.{name}: expected a positive integer, got {getattr(t, name)}")
    if t.lr_schedule not in LR_SCHEDULES:
        raise ConfigError(f"train.lr_schedule: expected one of {', '.join(LR_SCHEDULES)}, got {t.lr_schedule!r}")
    if not 0 <= t.lr_warmup_steps < t.steps:
        raise ConfigError(f"train.lr_warmup_steps: expected >= 0 and below train.steps ({t.steps}), "
                          f"got {t.lr_warmup_steps}")
    if t.lambda_attn < 0:
        raise ConfigError(f"train.lambda_attn: expected >= 0, got {t.lambda_attn}")
    # Checked here, not by AdamW / DataLoader after the SVD load, and named by key.
    for key, value, ok, expected in (
            ("train.learning_rate", t.learning_rate, t.learning_rate > 0, "> 0"),
            ("train.svd_query_key_learning_rate", t.svd_query_key_learning_rate,
             t.svd_query_key_learning_rate > 0, "> 0"),
            ("train.svd_temporal_learning_rate", t.svd_temporal_learning_rate,
             t.svd_temporal_learning_rate > 0, "> 0"),
            ("train.weight_decay", t.weight_decay, t.weight_decay >= 0, ">= 0"),
            ("train.adam_beta1", t.adam_beta1, 0 <= t.adam_beta1 < 1, "in [0, 1)"),
            ("train.adam_beta2", t.adam_beta2, 0 <= t.adam_beta2 < 1, "in [0, 1)"),
            ("train.adam_epsilon", t.adam_epsilon, t.adam_epsilon >= 0, ">= 0"),
            ("train.max_grad_norm", t.max_grad_norm, t.max_grad_norm >= 0, ">= 0 (0 = no clipping)"),
            ("data.frames", d.frames, d.frames >= 2, "at least 2"),
            ("data.num_workers", d.num_workers, d.num_workers >= 0, ">= 0"),
            ("noise.p_std", config.noise.p_std, config.noise.p_std > 0, "> 0")):
        if not ok:
            raise ConfigError(f"{key}: expected {expected}, got {value}")


def with_overrides(config: Config, **sections) -> Config:
    """Programmatic overrides, e.g. ``with_overrides(cfg, train={"steps": 5})``."""
    return from_dict({name: dict(asdict(getattr(config, name)), **sections.get(name, {}))
                      for name in ("model", "data", "conditioning", "noise", "train")})


def add_config_arguments(parser, set_example: str) -> None:
    """``--config`` and ``--set``, the same in every command that loads a training config."""
    parser.add_argument("--config", type=Path, default=None,
                        help=f"TOML config (default: {CONFIG_DIR / 'paper.toml'})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help=f"override one setting, e.g. {set_example}")
