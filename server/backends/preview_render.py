"""The preview's pixels: each masked region is a feathered layer warped along its points' motion.

Per job (once): a background plate (the reference with every region inpainted, so a region that
moves away leaves a plausible fill, never black), one feathered alpha per region, and the
surroundings' influence maps. Per frame: the background, then the regions composited in track
order (later tracks on top).

* By default (``follow`` = 0) the background is the plate itself: every pixel outside the moved
  regions and the holes they leave is the reference's, bit for bit.
* ``follow`` > 0 drags the surroundings along (scaled by tau's gate). That pull never folds:
  its falloff widens with the arrow's length and the field is scaled so its Jacobian's norm
  stays below ``FOLD_MARGIN`` < 1, so det(I - J) > 0 everywhere.
* Overlapping masks: each pixel belongs to one track, the latest one that paints it (track
  order is depth, later tracks on top), so no content is carried twice.
* Beyond the frame edge a region continues as its edge row/column (replicated), never as a
  mirrored copy of itself.

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
FOLD_MARGIN = 0.9        # the background pull's Jacobian norm stays below this (< 1: no fold)
ROTATION_EPS = 1e-6      # rad: turns below this are no turn (a straight arrow stays bit-exact)
DETAIL_SIGMA = 2.0       # px: detail above this scale is carried into inpainted holes


@dataclass
class _Layer:
    alpha: np.ndarray          # (H, W) float32 in [0, 1]; the layer's colours are the reference's
    box: tuple[int, int, int, int]   # x0, y0, x1, y1 (exclusive) of alpha > 0
    points: np.ndarray         # indices into the trajectories
    angles: np.ndarray | None = None   # (L,) radians the region has turned at each frame, or None


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


def _soft_edge(core: np.ndarray, width: float) -> np.ndarray:
    """(H, W) float32: a smoothstep from 0 at the core's edge to 1 ``width`` px inside it, 1
    outside the core (the outer feather is left as it is)."""
    inside = cv2.distanceTransform(core.astype(np.uint8), cv2.DIST_L2, 5)
    ramp = np.clip(inside / width, 0.0, 1.0)
    return np.where(core, ramp * ramp * (3.0 - 2.0 * ramp), 1.0).astype(np.float32)


def background_plate(reference: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """The reference with ``holes`` filled: cv2.inpaint (Telea) for the colours, plus texture.

    Telea is smooth by nature, so it runs on a small copy (a few milliseconds) and gives the
    fill's low frequencies; the fine detail (the reference minus its Gaussian blur) is then
    mirrored into the hole across its nearest edge, so the fill carries the surroundings' grain
    instead of a flat smear (docs/motion.md measures the detail share). Only hole pixels are
    replaced. With no known pixel left (a whole-frame mask) the plate is the reference itself.
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
    fill = fill[holes].astype(np.float32) + _mirrored_detail(reference, holes)
    plate = reference.copy()
    plate[holes] = np.clip(np.rint(fill), 0, 255).astype(np.uint8)
    return plate


def _mirrored_detail(reference: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """(n, 3) float32 fine detail for the n hole pixels: for hole pixel p with nearest known pixel
    b, the detail at 2b - p (its mirror across the edge), or at b when the mirror is unknown too."""
    ref = reference.astype(np.float32)
    detail = ref - cv2.GaussianBlur(ref, (0, 0), DETAIL_SIGMA)
    _, labels = cv2.distanceTransformWithLabels(np.where(holes, 255, 0).astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    known_y, known_x = np.nonzero(~holes)                 # label k is the k-th known pixel in raster order
    ys, xs = np.nonzero(holes)
    nearest = labels[ys, xs] - 1
    by, bx = known_y[nearest], known_x[nearest]
    my, mx = 2 * by - ys, 2 * bx - xs
    h, w = holes.shape
    inside = (my >= 0) & (my < h) & (mx >= 0) & (mx < w)
    use = np.zeros_like(inside)
    use[inside] = ~holes[my[inside], mx[inside]]
    sy, sx = np.where(use, my, by), np.where(use, mx, bx)
    return detail[sy, sx]


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
    """Everything computed once per job; ``frame(i)`` then renders frame i (uint8 RGB) and
    ``region_mask(i)`` says where the moved regions are in it (the dual-clock backend's M)."""

    def __init__(self, reference: np.ndarray, masks, traj: Trajectories, tau: float = 0.0, follow: float = 0.0,
                 angles=None, softness=None):
        """``angles``: per track None or (L,) radians the region turns by at each frame (about its
        points' centroid); ``softness``: per track width in px of a feather inside the region's
        edge (0: hard, the default)."""
        reference = np.asarray(reference)
        if reference.ndim != 3 or reference.shape[2] != 3 or reference.dtype != np.uint8:
            raise MotionInputError("reference", f"expected uint8 (height, width, 3) RGB, got {reference.dtype} "
                                                f"{reference.shape}")
        self.height, self.width = reference.shape[:2]
        if len(masks) != traj.num_components:
            raise MotionInputError("tracks", f"expected one mask per trajectory component "
                                             f"({traj.num_components}), got {len(masks)}")
        if not 0.0 <= float(follow) <= 1.0:
            raise MotionInputError("background_follow", f"expected a number in [0, 1], got {follow!r}")
        self.traj = traj
        self.reference = reference
        self.strength = float(follow) * tau_gate(tau)
        short = min(self.height, self.width)
        feather = max(2.0, FEATHER_SHARE * short)

        masks = [self._checked_mask(j, mask) for j, mask in enumerate(masks)]
        angles = list(angles) if angles is not None else [None] * len(masks)
        softness = list(softness) if softness is not None else [0.0] * len(masks)
        owned = owned_masks(masks)
        cores = []
        self.layers: list[_Layer] = []
        for j, mask in enumerate(owned):
            points = np.flatnonzero(traj.component == j)
            if len(points) == 0:
                raise MotionInputError(f"tracks[{j}]", "expected at least one trajectory point for this "
                                                       "track's mask, got none")
            others = np.logical_or.reduce([m for k, m in enumerate(owned) if k != j]) if len(owned) > 1 else None
            core = _grow(mask, CORE_GROW_PX) if mask.any() else mask
            if others is not None:
                core &= ~others                   # a rim never takes another track's pixels
            cores.append(core)
            if not core.any():                    # wholly under later tracks: nothing of its own to move
                continue
            alpha = _feathered_alpha(core, feather)
            if softness[j] > 0:
                alpha *= _soft_edge(core, float(softness[j]))
            if others is not None:
                alpha[others] = 0.0
            turn = angles[j]
            if turn is not None and not np.abs(turn).max() > ROTATION_EPS:
                turn = None                       # a straight arrow: exactly the unrotated path
            self.layers.append(_Layer(alpha, _bbox(alpha > 0), points, turn))
        self.holes = np.logical_or.reduce(cores)
        self.plate = np.ascontiguousarray(background_plate(reference, self.holes))
        self._grid_size = (-(-self.width // FIELD_STEP), -(-self.height // FIELD_STEP))
        self._distances = None
        if self.strength > 0 and self.layers:
            self._sigma = INFLUENCE_SHARE * short
            self._distances = self._grid_distances([m for m, c in zip(owned, cores) if c.any()])
            # pixel xy of the coarse nodes, with one extra ring (see background_map)
            gw, gh = self._grid_size
            nx = (np.arange(-1, gw + 1) * FIELD_STEP + (FIELD_STEP - 1) / 2).astype(np.float32)
            ny = (np.arange(-1, gh + 1) * FIELD_STEP + (FIELD_STEP - 1) / 2).astype(np.float32)
            self._nodes = np.dstack(np.meshgrid(nx, ny))

    def _checked_mask(self, j: int, mask) -> np.ndarray:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.height, self.width):
            raise MotionInputError(f"tracks[{j}].mask", f"expected {self.width}x{self.height} like the "
                                                        f"reference, got {mask.shape[1]}x{mask.shape[0]}")
        return mask

    def _grid_distances(self, masks) -> np.ndarray:
        """(J, gh, gw) distance in pixels from each 8x8 block's centre to region j."""
        maps = []
        for mask in masks:
            coverage = cv2.resize(mask.astype(np.float32), self._grid_size, interpolation=cv2.INTER_AREA)
            dist = cv2.distanceTransform(np.where(coverage > 0, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
            maps.append(dist * FIELD_STEP)
        return np.stack(maps).astype(np.float32)

    @property
    def num_frames(self) -> int:
        return self.traj.num_frames

    def background_field(self, i: int) -> np.ndarray | None:
        """(gh, gw, 2) displacement of the surroundings on the 8-px grid at frame i, or None (still).

        Region j pulls with weight exp(-d / sigma_j), its falloff sigma_j at least its own pull
        over FOLD_MARGIN (a long arrow drags a wide neighbourhood gently instead of a narrow one
        steeply); the whole field is then scaled down if its Jacobian's Frobenius norm (a bound on
        the bilinear field's, from the grid's differences) would reach FOLD_MARGIN."""
        if self._distances is None or i == 0:
            return None
        disp = self.traj.displacements()[i]
        means = np.stack([disp[layer.points].mean(axis=0) for layer in self.layers]).astype(np.float32)  # (J, 2)
        pull = self.strength * np.hypot(means[:, 0], means[:, 1])
        sigmas = np.maximum(self._sigma, pull / FOLD_MARGIN)
        weights = np.exp(-self._distances / sigmas[:, None, None])
        total = np.maximum(1.0, weights.sum(axis=0))
        coarse = np.einsum("jyx,jc->yxc", weights, means) * (self.strength / total)[..., None]
        if not np.abs(coarse).max() > 1e-3:
            return None
        partials = [np.abs(np.diff(coarse[..., c], axis=a)).max(initial=0.0) / FIELD_STEP
                    for c in (0, 1) for a in (0, 1)]
        norm = float(np.sqrt(np.sum(np.square(partials))))
        if norm >= FOLD_MARGIN:
            coarse *= FOLD_MARGIN / norm * 0.999
        return coarse.astype(np.float32)

    def background_map(self, i: int) -> np.ndarray | None:
        """(H, W, 2) float32 map: output pixel (x, y) samples the plate at map[y, x]; None: still."""
        coarse = self.background_field(i)
        if coarse is None:
            return None
        # Sampling map = pixel - field, built on the coarse nodes (padded by one ring so every pixel
        # lies between nodes) and upsampled: bilinear is exact on the pixel coordinates, and
        # cv2.resize puts padded node k at pixel 8(k - 1) + 3.5, the centre of its block.
        padded = cv2.copyMakeBorder(coarse, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
        gw, gh = self._grid_size
        sampling = cv2.resize(self._nodes - padded, ((gw + 2) * FIELD_STEP, (gh + 2) * FIELD_STEP),
                              interpolation=cv2.INTER_LINEAR)
        return sampling[FIELD_STEP:FIELD_STEP + self.height, FIELD_STEP:FIELD_STEP + self.width]

    def _background(self, i: int) -> np.ndarray:
        sampling = self.background_map(i)
        if sampling is None:
            return self.plate.copy()
        fixed, fraction = cv2.convertMaps(sampling, None, cv2.CV_16SC2)
        return cv2.remap(self.plate, fixed, fraction, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _warp_layer(self, layer: _Layer, i: int):
        """The layer's RGBA at frame i over the box it covers, or None when it left the frame."""
        start = self.traj.positions[0, layer.points]
        now = self.traj.positions[i, layer.points]
        disp = (now - start).astype(np.float64)
        lo, hi = disp.min(axis=0), disp.max(axis=0)
        x0, y0, x1, y1 = layer.box
        # BORDER_REPLICATE continues a region that touches a frame edge by its edge row/column
        # beyond that edge (never a mirrored copy): the box then reaches as far as the move goes.
        x0 = -self.width if x0 == 0 else x0
        y0 = -self.height if y0 == 0 else y0
        x1 = 2 * self.width if x1 == self.width else x1
        y1 = 2 * self.height if y1 == self.height else y1
        bx0 = max(0, int(np.floor(x0 + lo[0])) - 1)
        by0 = max(0, int(np.floor(y0 + lo[1])) - 1)
        bx1 = min(self.width, int(np.ceil(x1 + hi[0])) + 1)
        by1 = min(self.height, int(np.ceil(y1 + hi[1])) + 1)
        if bx1 <= bx0 or by1 <= by0:
            return None
        size = (bx1 - bx0, by1 - by0)
        common = disp.mean(axis=0)
        if layer.angles is not None:
            return self._turned_layer(layer, i, start.astype(np.float64).mean(axis=0), common)
        if np.abs(disp - common).max() <= TRANSLATION_EPS:
            # dst(u, v) = src(u + bx0 - dx, v + by0 - dy)
            M = np.float32([[1, 0, bx0 - common[0]], [0, 1, by0 - common[1]]])
            flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            rgb = cv2.warpAffine(self.reference, M, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
            alpha = cv2.warpAffine(layer.alpha, M, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        else:
            field = interpolate_field(now, disp, (bx0, by0, bx1, by1))
            xs = np.arange(bx0, bx1, dtype=np.float32)[None, :] - field[..., 0]
            ys = np.arange(by0, by1, dtype=np.float32)[:, None] - field[..., 1]
            rgb = cv2.remap(self.reference, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            alpha = cv2.remap(layer.alpha, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return (bx0, by0, bx1, by1), rgb, alpha

    def _turned_layer(self, layer: _Layer, i: int, anchor: np.ndarray, move: np.ndarray):
        """The layer moved by ``move`` and turned by its angle at frame i about ``anchor`` (its
        points' centroid at frame 0): p -> R (p - anchor) + anchor + move, one cv2.warpAffine."""
        theta = float(layer.angles[i])
        c, s = np.cos(theta), np.sin(theta)
        rot = np.array([[c, -s], [s, c]])
        now = anchor + move
        x0, y0, x1, y1 = layer.box
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64) - anchor
        moved = corners @ rot.T + now
        bx0, by0 = (max(0, int(np.floor(v)) - 1) for v in moved.min(axis=0))
        bx1 = min(self.width, int(np.ceil(moved[:, 0].max())) + 1)
        by1 = min(self.height, int(np.ceil(moved[:, 1].max())) + 1)
        if bx1 <= bx0 or by1 <= by0:
            return None
        # inverse map: dst(u, v) = src(R^T ((u, v) + (bx0, by0) - now) + anchor)
        M = np.hstack([rot.T, (rot.T @ (np.array([bx0, by0]) - now) + anchor)[:, None]]).astype(np.float32)
        size = (bx1 - bx0, by1 - by0)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        rgb = cv2.warpAffine(self.reference, M, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.warpAffine(layer.alpha, M, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return (bx0, by0, bx1, by1), rgb, alpha

    def frame(self, i: int) -> np.ndarray:
        """Frame i as C-contiguous uint8 (H, W, 3) RGB."""
        return self.frame_and_mask(i)[0]

    def region_mask(self, i: int) -> np.ndarray:
        """(H, W) bool: where a moved region covers frame i (its layer's alpha >= 1/2)."""
        return self.frame_and_mask(i)[1]

    def frame_and_mask(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame i and its moved-region mask, composited once."""
        out = self._background(i)
        mask = np.zeros((self.height, self.width), bool)
        for layer in self.layers:
            got = self._warp_layer(layer, i)
            if got is None:
                continue
            (x0, y0, x1, y1), rgb, alpha = got
            # alpha * layer + (1 - alpha) * below, rounded to uint8
            out[y0:y1, x0:x1] = cv2.blendLinear(rgb, out[y0:y1, x0:x1], alpha, 1.0 - alpha)
            mask[y0:y1, x0:x1] |= alpha >= 0.5
        return out, mask

    def frames(self):
        for i in range(self.num_frames):
            yield self.frame(i)


def owned_masks(masks) -> list[np.ndarray]:
    """One owner per pixel: a pixel painted by several tracks belongs to the latest of them
    (track order is depth; later tracks are drawn on top), the earlier masks lose it."""
    owned = []
    later = np.zeros_like(masks[0], dtype=bool) if masks else None
    for mask in reversed(masks):
        owned.append(mask & ~later)
        later = later | mask
    return owned[::-1]
