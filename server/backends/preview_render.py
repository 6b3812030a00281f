"""The preview's pixels: each masked region is a feathered layer warped along its points' motion.

Per job (once): a background plate (the reference with every region inpainted, so a region that
moves away leaves a plausible fill, never black), one feathered alpha per region, and the
surroundings' influence maps for tau. Per frame: the background, warped softly when tau lets the
surroundings follow, then the regions composited in track order (later tracks on top).

A region's motion is a dense field interpolated from its own points' displacements (inverse
distance weighting over the points' current positions), sampled backwards with cv2.remap. When
all of a region's points move alike (arrows: the paper moves every point of a component by the
arrow's displacement) the field is a translation and one cv2.warpAffine does the same job faster.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from server.motion import MotionInputError, Trajectories, tau_gate

CORE_GROW_PX = 2         # regions take a 2-px rim of their surroundings (imperfect painted edges)
FEATHER_SHARE = 0.008    # feather width as a share of the shorter side (4.6 px at 576)
INFLUENCE_SHARE = 0.15   # how far (share of the shorter side) surroundings feel a region at tau=0
INPAINT_MAX_SIDE = 256   # the plate is inpainted at this size, then upsampled into the holes
FIELD_STEP = 8           # dense fields are interpolated on an 8-px grid, then resized
TRANSLATION_EPS = 1e-3   # px: points closer than this to a common displacement move rigidly


@dataclass
class _Layer:
    alpha: np.ndarray          # (H, W) float32 in [0, 1]; the layer's colours are the reference's
    box: tuple[int, int, int, int]   # x0, y0, x1, y1 (exclusive) of alpha > 0
    points: np.ndarray         # indices into the trajectories


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def _feathered_alpha(core: np.ndarray, feather: float) -> np.ndarray:
    """1 on the core, a smoothstep ramp to 0 over ``feather`` px outside it (computed near the core)."""
    h, w = core.shape
    x0, y0, x1, y1 = _bbox(core)
    m = int(np.ceil(feather)) + 2
    x0, y0, x1, y1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
    crop = core[y0:y1, x0:x1]
    outside = cv2.distanceTransform(np.where(crop, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
    ramp = np.clip(1.0 - outside / feather, 0.0, 1.0)
    alpha = np.zeros((h, w), np.float32)
    alpha[y0:y1, x0:x1] = ramp * ramp * (3.0 - 2.0 * ramp)
    return alpha


def background_plate(reference: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """The reference with ``holes`` filled by cv2.inpaint (Telea), computed at a reduced size.

    Inpainting is smooth by nature, so a small copy loses nothing visible and keeps the plate
    to a few milliseconds; only the hole pixels are replaced. With no known pixel left (a
    whole-frame mask) there is nothing to fill from, and the plate is the reference itself.
    """
    h, w = holes.shape
    if not holes.any() or holes.all():
        return reference.copy()
    scale = min(1.0, INPAINT_MAX_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(reference, size, interpolation=cv2.INTER_AREA)
    small_holes = cv2.resize(holes.astype(np.uint8), size, interpolation=cv2.INTER_AREA)
    small_holes = _grow(small_holes > 0, 1) if scale < 1.0 else small_holes > 0
    if small_holes.all():
        fill = np.broadcast_to(reference[~holes].mean(axis=0), reference.shape)
    else:
        filled = cv2.inpaint(small, small_holes.astype(np.uint8), 3, cv2.INPAINT_TELEA)
        fill = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    plate = reference.copy()
    plate[holes] = fill[holes]
    return plate


def interpolate_field(points: np.ndarray, values: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w, 2) float32 field over ``box`` from scattered xy ``points`` (N, 2) with ``values`` (N, 2).

    Inverse-distance weights (power 2, 1 px softening) on an 8-px grid, bilinearly resized:
    smooth, equal to a common value when all values agree, close to each value near its point.
    """
    x0, y0, x1, y1 = box
    gx = np.arange(x0, x1 + FIELD_STEP, FIELD_STEP, dtype=np.float32)
    gy = np.arange(y0, y1 + FIELD_STEP, FIELD_STEP, dtype=np.float32)
    d2 = ((gx[None, :, None] - points[None, None, :, 0]) ** 2
          + (gy[:, None, None] - points[None, None, :, 1]) ** 2)
    wts = 1.0 / (d2 + 1.0)
    field = np.einsum("yxn,nc->yxc", wts, values.astype(np.float32)) / wts.sum(axis=2)[..., None]
    return upsample_grid(field.astype(np.float32), x1 - x0, y1 - y0)


def upsample_grid(coarse: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a grid whose node k sits at pixel k * FIELD_STEP (not cv2.resize's centres)."""
    M = np.float32([[1.0 / FIELD_STEP, 0, 0], [0, 1.0 / FIELD_STEP, 0]])
    return cv2.warpAffine(coarse, M, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


class PreviewRenderer:
    """Everything computed once per job; ``frame(i)`` then renders frame i (uint8 RGB)."""

    def __init__(self, reference: np.ndarray, masks, traj: Trajectories, tau: float = 0.0):
        reference = np.asarray(reference)
        if reference.ndim != 3 or reference.shape[2] != 3 or reference.dtype != np.uint8:
            raise MotionInputError("reference", f"expected uint8 (height, width, 3) RGB, got {reference.dtype} "
                                                f"{reference.shape}")
        self.height, self.width = reference.shape[:2]
        if len(masks) != traj.num_components:
            raise MotionInputError("tracks", f"expected one mask per trajectory component "
                                             f"({traj.num_components}), got {len(masks)}")
        self.traj = traj
        self.reference = reference
        self.strength = tau_gate(tau)
        short = min(self.height, self.width)
        feather = max(2.0, FEATHER_SHARE * short)

        cores = []
        self.layers: list[_Layer] = []
        for j, mask in enumerate(masks):
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (self.height, self.width):
                raise MotionInputError(f"tracks[{j}].mask", f"expected {self.width}x{self.height} like the "
                                                            f"reference, got {mask.shape[1]}x{mask.shape[0]}")
            points = np.flatnonzero(traj.component == j)
            if len(points) == 0:
                raise MotionInputError(f"tracks[{j}]", "expected at least one trajectory point for this "
                                                       "track's mask, got none")
            core = _grow(mask, CORE_GROW_PX)
            cores.append(core)
            alpha = _feathered_alpha(core, feather)
            self.layers.append(_Layer(alpha, _bbox(alpha > 0), points))
        self.plate = np.ascontiguousarray(background_plate(reference, np.logical_or.reduce(cores)))
        self._grid_size = (-(-self.width // FIELD_STEP), -(-self.height // FIELD_STEP))
        self._influence = None
        if self.strength > 0:
            self._influence = self._influence_maps(masks, short)
            # pixel xy of the coarse nodes, with one extra ring (see _background)
            gw, gh = self._grid_size
            nx = (np.arange(-1, gw + 1) * FIELD_STEP + (FIELD_STEP - 1) / 2).astype(np.float32)
            ny = (np.arange(-1, gh + 1) * FIELD_STEP + (FIELD_STEP - 1) / 2).astype(np.float32)
            self._nodes = np.dstack(np.meshgrid(nx, ny))

    def _influence_maps(self, masks, short: int) -> np.ndarray:
        """(J, gh, gw) exp(-distance / sigma) per region, one value per 8x8 block (its centre)."""
        sigma = INFLUENCE_SHARE * short
        maps = []
        for mask in masks:
            coverage = cv2.resize(np.asarray(mask, np.float32), self._grid_size, interpolation=cv2.INTER_AREA)
            dist = cv2.distanceTransform(np.where(coverage > 0, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
            maps.append(np.exp(-dist * FIELD_STEP / sigma))
        return np.stack(maps).astype(np.float32)

    @property
    def num_frames(self) -> int:
        return self.traj.num_frames

    def _background(self, i: int) -> np.ndarray:
        if self._influence is None or i == 0:
            return self.plate.copy()
        disp = self.traj.displacements()[i]
        means = np.stack([disp[layer.points].mean(axis=0) for layer in self.layers])    # (J, 2)
        weights = self._influence
        total = np.maximum(1.0, weights.sum(axis=0))
        coarse = np.einsum("jyx,jc->yxc", weights, means) * (self.strength / total)[..., None]
        if not np.abs(coarse).max() > 1e-3:
            return self.plate.copy()
        # Sampling map = pixel - field, built on the coarse nodes (padded by one ring so every pixel
        # lies between nodes) and upsampled: bilinear is exact on the pixel coordinates, and
        # cv2.resize puts padded node k at pixel 8(k - 1) + 3.5, the centre of its block.
        padded = cv2.copyMakeBorder(coarse.astype(np.float32), 1, 1, 1, 1, cv2.BORDER_REPLICATE)
        gw, gh = self._grid_size
        sampling = cv2.resize(self._nodes - padded, ((gw + 2) * FIELD_STEP, (gh + 2) * FIELD_STEP),
                              interpolation=cv2.INTER_LINEAR)
        sampling = sampling[FIELD_STEP:FIELD_STEP + self.height, FIELD_STEP:FIELD_STEP + self.width]
        fixed, fraction = cv2.convertMaps(sampling, None, cv2.CV_16SC2)
        return cv2.remap(self.plate, fixed, fraction, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def _warp_layer(self, layer: _Layer, i: int):
        """The layer's RGBA at frame i over the box it covers, or None when it left the frame."""
        start = self.traj.positions[0, layer.points]
        now = self.traj.positions[i, layer.points]
        disp = (now - start).astype(np.float64)
        lo, hi = disp.min(axis=0), disp.max(axis=0)
        x0, y0, x1, y1 = layer.box
        # BORDER_REFLECT continues a region that touches a frame edge by its mirror image beyond
        # that edge (a camera move's revealed border): the box then spans the moved mirror too.
        if x0 == 0:
            x0 = -x1
        if y0 == 0:
            y0 = -y1
        if x1 == self.width:
            x1 = 2 * self.width - x0 if x0 >= 0 else 2 * self.width
        if y1 == self.height:
            y1 = 2 * self.height - y0 if y0 >= 0 else 2 * self.height
        bx0 = max(0, int(np.floor(x0 + lo[0])) - 1)
        by0 = max(0, int(np.floor(y0 + lo[1])) - 1)
        bx1 = min(self.width, int(np.ceil(x1 + hi[0])) + 1)
        by1 = min(self.height, int(np.ceil(y1 + hi[1])) + 1)
        if bx1 <= bx0 or by1 <= by0:
            return None
        size = (bx1 - bx0, by1 - by0)
        common = disp.mean(axis=0)
        if np.abs(disp - common).max() <= TRANSLATION_EPS:
            # dst(u, v) = src(u + bx0 - dx, v + by0 - dy)
            M = np.float32([[1, 0, bx0 - common[0]], [0, 1, by0 - common[1]]])
            flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            rgb = cv2.warpAffine(self.reference, M, size, flags=flags, borderMode=cv2.BORDER_REFLECT)
            alpha = cv2.warpAffine(layer.alpha, M, size, flags=flags, borderMode=cv2.BORDER_REFLECT)
        else:
            field = interpolate_field(now, disp, (bx0, by0, bx1, by1))
            xs = np.arange(bx0, bx1, dtype=np.float32)[None, :] - field[..., 0]
            ys = np.arange(by0, by1, dtype=np.float32)[:, None] - field[..., 1]
            rgb = cv2.remap(self.reference, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            alpha = cv2.remap(layer.alpha, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return (bx0, by0, bx1, by1), rgb, alpha

    def frame(self, i: int) -> np.ndarray:
        """Frame i as C-contiguous uint8 (H, W, 3) RGB."""
        out = self._background(i)
        for layer in self.layers:
            got = self._warp_layer(layer, i)
            if got is None:
                continue
            (x0, y0, x1, y1), rgb, alpha = got
            # alpha * layer + (1 - alpha) * below, rounded to uint8
            out[y0:y1, x0:x1] = cv2.blendLinear(rgb, out[y0:y1, x0:x1], alpha, 1.0 - alpha)
        return out

    def frames(self):
        for i in range(self.num_frames):
            yield self.frame(i)
