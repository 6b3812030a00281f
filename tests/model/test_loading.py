"""Loading from local folders: clear errors naming the expected file; the tiny folder is reused."""
from __future__ import annotations

import shutil

import numpy as np
import PIL.Image
import pytest
import torch

from server.trackgo.loading import ModelFilesError, load_adapter, load_pipeline, resolve_dtype
from server.trackgo.tiny import create_tiny_model

from .helpers import moving_square, nudge


def test_missing_svd_folder_names_model_index(tmp_path, tiny_dir):
    with pytest.raises(ModelFilesError, match=r"svd_path: .*model_index\.json"):
        load_pipeline(tmp_path / "nowhere", tiny_dir / "adapter", device="cpu")


def test_svd_folder_without_unet_weights_names_the_folder(tmp_path, tiny_dir):
    broken = tmp_path / "svd"
    shutil.copytree(tiny_dir / "svd", broken)
    for weights in (broken / "unet").glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(ModelFilesError, match=r"no weights .*unet"):
        load_pipeline(broken, tiny_dir / "adapter", device="cpu")


def test_adapter_folder_without_weights_names_the_safetensors_file(tmp_path, tiny_dir):
    broken = tmp_path / "adapter"
    broken.mkdir()
    shutil.copy(tiny_dir / "adapter" / "config.json", broken / "config.json")
    with pytest.raises(ModelFilesError, match=r"adapter_path: .*diffusion_pytorch_model\.safetensors"):
        load_adapter(broken)
    with pytest.raises(ModelFilesError, match=r"adapter_path: .*config\.json"):
        load_adapter(tmp_path / "empty")


def test_corrupt_adapter_weights_are_a_clear_error(tmp_path, tiny_dir):
    broken = tmp_path / "adapter"
    shutil.copytree(tiny_dir / "adapter", broken)
    (broken / "diffusion_pytorch_model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelFilesError, match="adapter_path: could not load"):
        load_adapter(broken)


def test_adapter_for_another_unet_is_refused(tmp_path, tiny_dir):
    from server.trackgo import TrackAdapter

    other = TrackAdapter(layer_names=["down_blocks.0.x"], layer_channels=[32], layer_heads=[2],
                         layer_levels=[0], condition_channels=16, encoder_channels=(8, 8, 16))
    other.save_pretrained(tmp_path / "other")
    with pytest.raises(ModelFilesError, match="adapter_path: .* does not fit the SVD .*different UNet"):
        load_pipeline(tiny_dir / "svd", tmp_path / "other", device="cpu")


def tuned_adapter_folder(tiny_dir, folder):
    """The tiny adapter with tuned (changed) copies of SVD's temporal layers, saved to ``folder``."""
    from diffusers import UNetSpatioTemporalConditionModel

    adapter = load_adapter(tiny_dir / "adapter")
    unet = UNetSpatioTemporalConditionModel.from_pretrained(tiny_dir / "svd" / "unet")
    nudge(adapter.tune_temporal(unet))
    adapter.save_pretrained(folder)
    return folder


def test_an_adapter_with_tuned_temporal_layers_serves_through_load_pipeline(tmp_path, tiny_dir):
    from server.trackgo.temporal import TEMPORAL_WEIGHTS, temporal_module_names

    folder = tuned_adapter_folder(tiny_dir, tmp_path / "tuned")
    assert (folder / TEMPORAL_WEIGHTS).is_file()
    image = PIL.Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    runs = {}
    for name, path in (("plain", tiny_dir / "adapter"), ("tuned", folder)):
        pipe = load_pipeline(tiny_dir / "svd", path, device="cpu")
        runs[name] = pipe.generate(image, moving_square(6, 64), height=64, width=64, num_inference_steps=2,
                                   seed=0, decode_chunk_size=6).frames
        if name == "tuned":
            names, copies = temporal_module_names(pipe.unet), pipe.track_adapter.temporal.copies
            assert all(pipe.unet.get_submodule(n) is c for n, c in zip(names, copies))
            pipe.detach_adapter()                 # plain SVD again: its own temporal modules
            assert not any(pipe.unet.get_submodule(n) is c for n, c in zip(names, copies))
    assert not all(np.array_equal(a, b) for a, b in zip(runs["plain"], runs["tuned"]))


def test_temporal_weights_for_another_unet_or_unreadable_are_clear_errors(tmp_path, tiny_dir):
    from safetensors.torch import load_file, save_file

    from server.trackgo.temporal import TEMPORAL_WEIGHTS

    folder = tuned_adapter_folder(tiny_dir, tmp_path / "tuned")
    state = load_file(str(folder / TEMPORAL_WEIGHTS))
    key = sorted(state)[0]
    save_file({k: v for k, v in state.items() if k != key}, str(folder / TEMPORAL_WEIGHTS))
    with pytest.raises(ModelFilesError, match=f"adapter_path: .*{TEMPORAL_WEIGHTS}: built for a different UNet"):
        load_pipeline(tiny_dir / "svd", folder, device="cpu")
    (folder / TEMPORAL_WEIGHTS).write_bytes(b"not a safetensors file")
    with pytest.raises(ModelFilesError, match=f"adapter_path: could not load .*{TEMPORAL_WEIGHTS}: not a readable"):
        load_adapter(folder)


def test_dtype_rules():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("auto", cuda) == torch.float16
    assert resolve_dtype("bfloat16", cuda) == torch.bfloat16
    with pytest.raises(ValueError, match="dtype: .*CPU"):
        resolve_dtype("float16", cpu)
    with pytest.raises(ValueError, match="dtype: expected one of"):
        resolve_dtype("int8", cuda)


def test_device_rules(monkeypatch):
    from server.trackgo.loading import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    for bad in ("gpu", "cuda:x", None):
        with pytest.raises(ValueError, match="device: expected auto, cpu, cuda"):
            resolve_device(bad)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(ValueError, match=r"device: 'cuda:3' .*only 1 CUDA device"):
        resolve_device("cuda:3")


def test_cpu_offload_without_cuda_is_refused_before_loading(tiny_dir, monkeypatch):
    from server.trackgo.pipeline import TrackGoPipeline

    def never(*args, **kwargs):
        raise AssertionError("SVD was loaded before the option was checked")

    monkeypatch.setattr(TrackGoPipeline, "from_pretrained", never)
    with pytest.raises(ValueError, match="cpu_offload: needs a CUDA device"):
        load_pipeline(tiny_dir / "svd", tiny_dir / "adapter", device="cpu", cpu_offload=True)


def test_tiny_folder_is_created_once_and_loads_through_the_real_path(tiny_dir):
    assert (tiny_dir / "svd" / "model_index.json").is_file()
    assert (tiny_dir / "adapter" / "diffusion_pytorch_model.safetensors").is_file()
    stamp = (tiny_dir / "adapter" / "diffusion_pytorch_model.safetensors").stat().st_mtime_ns
    assert create_tiny_model(tiny_dir) == tiny_dir
    assert (tiny_dir / "adapter" / "diffusion_pytorch_model.safetensors").stat().st_mtime_ns == stamp
    assert not list(tiny_dir.parent.glob("*.partial-*"))


def test_a_failed_tiny_creation_leaves_nothing_behind(tmp_path, monkeypatch):
    from server.trackgo import TrackAdapter

    def fail(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(TrackAdapter, "save_pretrained", fail)
    with pytest.raises(OSError, match="disk full"):
        create_tiny_model(tmp_path / "tiny")
    assert list(tmp_path.iterdir()) == []
