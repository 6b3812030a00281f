"""Tuned copies of SVD's temporal layers (``model.tune_svd_temporal``): swapped in by install,
the UNet's own modules back on remove, saved beside the adapter under the UNet's names and loaded
through the same path as the adapter, and trained by L_mse's gradient."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from server.trackgo import TrackAdapter
from server.trackgo.loading import load_adapter
from server.trackgo.temporal import TEMPORAL_MODULES, TEMPORAL_WEIGHTS, TemporalWeights, temporal_module_names

from .helpers import moving_square, nudge
from .test_training_signal import FRAMES, adapter_for, unet_inputs


def run(unet, adapter):
    with torch.no_grad(), adapter.condition(trajectories=moving_square(FRAMES)):
        return unet(*unet_inputs()).sample


def test_install_swaps_the_copies_in_and_remove_gives_the_unet_back(tiny_unet):
    before = {k: v.clone() for k, v in tiny_unet.state_dict().items()}
    names = temporal_module_names(tiny_unet)
    originals = [tiny_unet.get_submodule(n) for n in names]
    assert {n.rsplit(".", 1)[-1] for n in names} == set(TEMPORAL_MODULES)
    adapter = adapter_for(tiny_unet, tune=True)
    adapter.install(tiny_unet)
    plain = run(tiny_unet, adapter)                      # the copies are SVD's weights: same output
    adapter.remove(tiny_unet)

    temporal = adapter.tune_temporal(tiny_unet)
    nudge(temporal)
    adapter.install(tiny_unet)
    for name, copy in zip(names, temporal.copies):
        assert tiny_unet.get_submodule(name) is copy
    assert not torch.allclose(run(tiny_unet, adapter), plain)
    adapter.remove(tiny_unet)
    assert [tiny_unet.get_submodule(n) for n in names] == originals
    for k, v in tiny_unet.state_dict().items():
        assert torch.equal(v, before[k]), k
    adapter.install(tiny_unet)
    with pytest.raises(RuntimeError, match="before install"):
        adapter.tune_temporal(tiny_unet)
    with pytest.raises(RuntimeError, match="a TrackAdapter is installed"):
        TemporalWeights.from_unet(tiny_unet)


def test_saved_under_the_unets_names_and_loaded_back(tiny_unet, tmp_path):
    adapter = adapter_for(tiny_unet, tune=True)
    nudge(adapter.tune_temporal(tiny_unet))
    adapter.install(tiny_unet)
    expected = run(tiny_unet, adapter)
    adapter.remove(tiny_unet)
    adapter.save_pretrained(tmp_path / "a")

    saved = load_file(str(tmp_path / "a" / TEMPORAL_WEIGHTS))
    own = tiny_unet.state_dict()
    assert set(saved) <= set(own) and len(saved) == len(adapter.temporal.unet_state())
    assert not any(k.startswith("temporal") for k in load_file(str(tmp_path / "a" / "diffusion_pytorch_model.safetensors")))

    loaded = load_adapter(tmp_path / "a")                  # the server's loading path
    assert loaded.has_temporal_weights and loaded.temporal is None   # copies made at install
    loaded.install(tiny_unet)
    # (not bit-equal: CPU kernels differ by ~1e-6 between weights with and without requires_grad)
    torch.testing.assert_close(run(tiny_unet, loaded), expected)
    assert all(not p.requires_grad for p in loaded.temporal.parameters())   # frozen when served
    loaded.remove(tiny_unet)
    for k, v in tiny_unet.state_dict().items():
        assert torch.equal(v, own[k]), k

    # a later save of an adapter without them leaves no stale file to be picked up with it
    adapter_for(tiny_unet).save_pretrained(tmp_path / "a")
    assert not (tmp_path / "a" / TEMPORAL_WEIGHTS).exists()
    assert not load_adapter(tmp_path / "a").has_temporal_weights


def test_a_file_for_another_unet_is_refused_naming_it(tiny_unet, tmp_path):
    adapter = adapter_for(tiny_unet)
    adapter.tune_temporal(tiny_unet)
    state = adapter.temporal.unet_state()
    key = next(iter(state))
    bad = dict(state, **{key: torch.zeros(3)})
    with pytest.raises(ValueError, match=rf"{TEMPORAL_WEIGHTS}: {key} has shape \(3,\)"):
        TemporalWeights.from_unet(tiny_unet, bad)
    with pytest.raises(ValueError, match=f"{TEMPORAL_WEIGHTS}: built for a different UNet.*missing"):
        TemporalWeights.from_unet(tiny_unet, {k: v for k, v in state.items() if k != key})


def test_only_weights_that_take_a_gradient_are_trained(tiny_unet):
    """With the svd_query_key copies the original branch never uses the temporal copies' own
    W_q / W_k: they are left out (no optimiser state, no DDP 'unused parameter' error)."""
    plain = adapter_for(tiny_unet)
    plain.tune_temporal(tiny_unet)
    every = sum(p.numel() for p in plain.parameter_groups()["svd_temporal"])
    assert every == sum(p.numel() for p in plain.temporal.parameters())

    tuned = adapter_for(tiny_unet, tune=True)
    tuned.tune_temporal(tiny_unet)
    group = tuned.parameter_groups()["svd_temporal"]
    shadowed = sum(2 * tuned.layers[i].base_q.weight.numel() for i in range(len(tuned.layers)))
    assert sum(p.numel() for p in group) == every - shadowed

    tuned.install(tiny_unet)
    with tuned.condition(trajectories=moving_square(FRAMES)):
        out = tiny_unet(*unet_inputs()).sample
    grads = torch.autograd.grad(out.square().mean(), group, allow_unused=True)
    assert all(g is not None for g in grads), "a tuned temporal weight gets no gradient"
    assert sum(float(g.abs().sum()) for g in grads) > 0
    tuned.remove(tiny_unet)


def test_loaded_adapter_continues_from_its_own_temporal_weights(tiny_unet, tmp_path):
    adapter = adapter_for(tiny_unet, tune=True)
    nudge(adapter.tune_temporal(tiny_unet))
    adapter.save_pretrained(tmp_path / "a")
    loaded = TrackAdapter.from_pretrained(tmp_path / "a")
    again = loaded.tune_temporal(tiny_unet, trainable=True)
    for a, b in zip(adapter.temporal.parameters(), again.parameters()):
        assert torch.equal(a, b)
    assert any(p.requires_grad for p in again.parameters())
