"""Cost of the attention loss (Eq. 8) per training step, side by side, on the tiny model (CPU).

With lambda > 0 every temporal layer builds its original-branch attention map explicitly (to
take A_q(i, i)); with lambda = 0 the layers stay on fused SDPA. Same model, same samples, the
order alternating. Prints name=value lines.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.training.conftest import write_tiny_dataset  # noqa: E402
from server.trackgo.tiny import create_tiny_model  # noqa: E402
from server.training import config as cfgmod  # noqa: E402
from server.training import train  # noqa: E402

ROUNDS = 6


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="trackgo-bench-"))
    model = create_tiny_model(folder / "model")
    data = write_tiny_dataset(folder / "ds")
    base = cfgmod.load(cfgmod.CONFIG_DIR / "tiny.toml", [
        f"model.svd={model / 'svd'}", f"model.adapter={model / 'adapter'}", f"data.dataset={data}"])
    trainers = {}
    for name, lam in (("with_attn_loss", 0.1), ("mse_only", 0.0)):
        cfg = cfgmod.with_overrides(base, train={"lambda_attn": lam})
        trainers[name] = train.Trainer(cfg, folder / name, log=lambda s: None)
        trainers[name].train_step()                       # warm-up
    times = {name: [] for name in trainers}
    for r in range(ROUNDS):
        order = list(trainers) if r % 2 == 0 else list(reversed(trainers))
        for name in order:
            t0 = time.perf_counter()
            trainers[name].train_step()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(v) for name, v in times.items()}
    print(f"config=tiny (64x64, {base.data.frames} frames, batch 1, fp32, CPU)")
    print(f"rounds={ROUNDS}")
    for name, value in med.items():
        print(f"step_seconds_{name}={value:.3f}")
    print(f"attn_loss_step_ratio={med['with_attn_loss'] / med['mse_only']:.3f}")


if __name__ == "__main__":
    main()
