"""One progress per job, the same in the panel, the status bar and on the strip.

The server reports stages (loading, preparing k/n, denoising k/n, decoding k/n) and frames
arrive; each would make its own bar (0.2 → 0.04 when the stage changed). Here they are one
ordered sequence — queued → preparing → denoising k/n → frames landed — mapped to one value
that never goes back, and one text for every place that shows it.
"""
from __future__ import annotations

PHASES = ("submitted", "queued", "loading", "preparing", "denoising", "frames")
PREPARING_END = 0.05     # share of the bar up to the end of preparing
DENOISING_END = 0.5      # ... and of denoising (when the backend denoises); frames fill the rest


class JobProgress:
    def __init__(self):
        self.phase = 0
        self.value = 0.0
        self.text = "Submitted"
        self.denoises = False

    def _set(self, phase: str, value: float, text: str) -> bool:
        index = PHASES.index(phase)
        if index < self.phase:
            return False  # a late report of an earlier stage changes nothing
        self.phase = index
        self.value = max(self.value, min(1.0, max(0.0, value)))
        self.text = text
        return True

    def queued(self, position: int) -> bool:
        return self._set("queued", 0.0, f"Queued (position {int(position)})")

    def stage(self, stage: str, step: int, total: int, eta_s=None) -> bool:
        """A server ``progress`` message. Decoding is shown by the frames that land, not twice."""
        frac = step / total if total else 0.0
        eta = f" · ETA {eta_s:.0f} s" if isinstance(eta_s, (int, float)) else ""
        if stage == "loading":
            return self._set("loading", 0.0, "Loading the model")
        if stage == "preparing":
            return self._set("preparing", PREPARING_END * frac, "Preparing")
        if stage == "denoising":
            self.denoises = True
            return self._set("denoising", PREPARING_END + (DENOISING_END - PREPARING_END) * frac,
                             f"Denoising {step}/{total}{eta}")
        return False

    def frames(self, landed: int, total: int) -> bool:
        base = DENOISING_END if self.denoises else PREPARING_END
        return self._set("frames", base + (1.0 - base) * landed / max(1, total), f"Frames {landed}/{total}")
