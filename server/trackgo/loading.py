"""Load SVD from a local diffusers folder and the TrackAdapter from its safetensors + config.json.

Both go through ``from_pretrained(..., local_files_only=True)``: nothing is ever downloaded.
Every missing piece is reported by the file that was expected, before diffusers gets a chance to
fail with something less direct.
"""
from __future__ import annotations

from pathlib import Path

import torch

from server.trackgo.adapter import TrackAdapter
from server.trackgo.pipeline import TrackGoPipeline

ADAPTER_WEIGHTS = "diffusion_pytorch_model.safetensors"
SVD_COMPONENTS = ("unet", "vae", "image_encoder", "scheduler", "feature_extractor")
DTYPES = {"float16": torch.float16, "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float32": torch.float32, "fp32": torch.float32}


class ModelFilesError(FileNotFoundError):
    """A model folder is missing, or lacks a file it must have; the message names the file."""


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:             # "gpu", "cuda:x", None
        raise ValueError(f"device: expected auto, cpu, cuda, cuda:N or mps, got {device!r}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} asked for but no CUDA device is available; use 'cpu'")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(f"device: {device!r} asked for but only {torch.cuda.device_count()} CUDA device(s) "
                         f"exist (cuda:0 .. cuda:{torch.cuda.device_count() - 1})")
    return resolved


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """fp16 on CUDA by default (bf16 if asked), fp32 on CPU (half precision is not supported there)."""
    if isinstance(dtype, torch.dtype):
        resolved = dtype
    elif dtype == "auto":
        resolved = torch.float16 if device.type == "cuda" else torch.float32
    elif dtype in DTYPES:
        resolved = DTYPES[dtype]
    else:
        raise ValueError(f"dtype: expected one of auto, {', '.join(DTYPES)}; got {dtype!r}")
    if device.type == "cpu" and resolved != torch.float32:
        raise ValueError(f"dtype: {resolved} is not supported on CPU; use float32 (or 'auto')")
    return resolved


def check_svd_folder(path: str | Path) -> Path:
    folder = Path(path).expanduser()
    if not (folder / "model_index.json").is_file():
        raise ModelFilesError(
            f"svd_path: expected a diffusers Stable Video Diffusion folder; missing {folder / 'model_index.json'}"
        )
    for component in SVD_COMPONENTS:
        if not (folder / component).is_dir():
            raise ModelFilesError(f"svd_path: missing the {component!r} component folder {folder / component}")
    for component in ("unet", "vae", "image_encoder"):
        if not (folder / component / "config.json").is_file():
            raise ModelFilesError(f"svd_path: missing {folder / component / 'config.json'}")
        if not any((folder / component).glob("*.safetensors")) and not any((folder / component).glob("*.bin")):
            raise ModelFilesError(f"svd_path: no weights (*.safetensors) in {folder / component}")
    return folder


def check_adapter_folder(path: str | Path) -> Path:
    folder = Path(path).expanduser()
    for name in ("config.json", ADAPTER_WEIGHTS):
        if not (folder / name).is_file():
            raise ModelFilesError(f"adapter_path: expected a TrackAdapter folder; missing {folder / name}")
    return folder


def _variant(folder: Path, dtype: torch.dtype) -> str | None:
    """Released SVD folders carry fp16 variants (diffusion_pytorch_model.fp16.safetensors); use
    them for half precision, or when they are the only weights there are."""
    unet = folder / "unet"
    has_fp16 = any(unet.glob("*.fp16.safetensors"))
    has_full = (unet / "diffusion_pytorch_model.safetensors").is_file() or any(
        p for p in unet.glob("diffusion_pytorch_model*.safetensors*") if ".fp16." not in p.name
    )
    if has_fp16 and (dtype != torch.float32 or not has_full):
        return "fp16"
    return None


def load_adapter(path: str | Path, dtype: torch.dtype = torch.float32) -> TrackAdapter:
    folder = check_adapter_folder(path)
    try:
        return TrackAdapter.from_pretrained(folder, dtype=dtype, local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelFilesError(f"adapter_path: could not load a TrackAdapter from {folder}: {exc}") from exc


def load_pipeline(
    svd_path: str | Path,
    adapter_path: str | Path | None,
    device: str = "auto",
    dtype: str | torch.dtype = "auto",
    cpu_offload: bool = False,
) -> TrackGoPipeline:
    """SVD + TrackAdapter ready to ``generate``. ``cpu_offload`` keeps each SVD component on the
    CPU until it runs (accelerate hooks), for 16 GB cards; the adapter (~60 MB) stays on the GPU.
    ``adapter_path=None`` loads SVD alone (plain SVD and dual-clock generation)."""
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    if cpu_offload and torch_device.type != "cuda":       # refused before minutes of loading, not after
        raise ValueError("cpu_offload: needs a CUDA device (it moves components between CPU and GPU)")
    svd_folder = check_svd_folder(svd_path)
    adapter = None if adapter_path is None else load_adapter(adapter_path, torch_dtype)
    try:
        pipe = TrackGoPipeline.from_pretrained(
            svd_folder, dtype=torch_dtype, local_files_only=True, variant=_variant(svd_folder, torch_dtype)
        )
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelFilesError(f"svd_path: could not load Stable Video Diffusion from {svd_folder}: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)
    if adapter is not None:
        try:
            pipe.attach_adapter(adapter)
        except ValueError as exc:                  # its layers or svd_temporal.safetensors fit another UNet
            raise ModelFilesError(f"adapter_path: {adapter_path} does not fit the SVD in {svd_folder}: {exc}") from exc
    if cpu_offload:
        pipe.enable_model_cpu_offload(device=torch_device)
    else:
        pipe.to(torch_device)
    if adapter is not None:
        adapter.to(torch_device)
    return pipe
