"""Turns the scene's TrackGo settings into job inputs: reference, masks, arrows, parameters.

Also the source listing and the automatic pairing the Motion Tracks list offers.
"""
from __future__ import annotations

import numpy as np

from ..io import pairing
from ..io.job import TrackInput
from . import capture, compat
from .properties import PALETTE


class InputError(ValueError):
    """Something the user has to fix; the message says what and where."""


def reference_image(settings):
    img = settings.reference
    if img is None:
        raise InputError("Reference: pick the image to animate (or grab the sequencer frame)")
    if img.size[0] == 0 or img.size[1] == 0:
        raise InputError(f"Reference: image {img.name!r} has no pixels (missing file "
                         f"{img.filepath or '(none)'})")
    return img


def annotation_source(context, settings):
    if settings.annotation is not None:
        return settings.annotation
    space = getattr(context, "space_data", None)
    found = compat.space_annotation(space) if space is not None and space.type == "IMAGE_EDITOR" else None
    return found or compat.scene_annotation(context.scene)


def all_arrows(context, settings, width: int, height: int) -> dict[str, np.ndarray]:
    arrows = {}
    for a in capture.annotation_arrows(annotation_source(context, settings), width, height):
        arrows[a.key] = a.points
    if settings.arrows_object is not None:
        for a in capture.camera_arrows(settings.arrows_object, context.scene, width, height):
            arrows[a.key] = a.points
    return arrows


def mask_layers(settings) -> list:
    return list(settings.mask.layers) if settings.mask is not None else []


def track_mask(settings, track, width: int, height: int) -> np.ndarray:
    if track.mask_image is not None:
        return capture.painted_mask(track.mask_image, width, height)
    layer = settings.mask.layers.get(track.mask_layer) if settings.mask is not None else None
    if layer is None:
        raise InputError(f"track {track.name!r}: mask layer {track.mask_layer!r} not found "
                         f"in mask {getattr(settings.mask, 'name', '(none)')!r}")
    return capture.rasterize_mask_layer(layer, width, height)


def refresh_sources(context, settings) -> dict[str, np.ndarray]:
    """Fill the lists the track rows choose from; returns the arrows by key."""
    img = reference_image(settings)
    w, h = img.size
    settings.masks.clear()
    for layer in mask_layers(settings):
        item = settings.masks.add()
        item.name = layer.name
        item.label = layer.name
    arrows = all_arrows(context, settings, w, h)
    settings.arrows.clear()
    for key, pts in arrows.items():
        item = settings.arrows.add()
        item.name = key
        item.label = key.split(":", 1)[1]
        item.tail_x, item.tail_y = float(pts[0][0]), float(pts[0][1])
    return arrows


_TRACK_FIELDS = ("name", "enabled", "mask_layer", "mask_image", "arrow", "color", "easing", "manual")


def _snapshot(track) -> dict:
    return {k: (tuple(getattr(track, k)) if k == "color" else getattr(track, k)) for k in _TRACK_FIELDS}


def _restore(track, values: dict) -> None:
    for k, v in values.items():
        setattr(track, k, v)


def auto_pair(context, settings) -> int:
    """One track per mask layer, each with the nearest arrow whose tail is inside it.
    Tracks marked manual (including painted-mask tracks) are kept as they are, and their
    arrows are not handed to other tracks. Returns the number of tracks."""
    arrows = refresh_sources(context, settings)
    w, h = settings.reference.size
    layers = mask_layers(settings)
    manual = [_snapshot(t) for t in settings.tracks if t.manual]
    manual_layers = {m["mask_layer"] for m in manual if m["mask_image"] is None}
    taken = {m["arrow"] for m in manual}
    free_keys = [k for k in arrows if k not in taken]
    auto_layers = [layer for layer in layers if layer.name not in manual_layers]
    masks = [capture.rasterize_mask_layer(layer, w, h) for layer in auto_layers]
    pairs = pairing.auto_pair(masks, [arrows[k][0] for k in free_keys])
    settings.tracks.clear()
    restored = set()  # indices into manual
    for i, layer in enumerate(layers):
        t = settings.tracks.add()
        if layer.name in manual_layers:
            k = next(k for k, m in enumerate(manual) if m["mask_layer"] == layer.name and m["mask_image"] is None)
            _restore(t, manual[k])
            restored.add(k)
            continue
        t.name = layer.name
        t.mask_layer = layer.name
        t.color = PALETTE[i % len(PALETTE)]
        j = auto_layers.index(layer)
        t.arrow = free_keys[pairs[j]] if j in pairs else ""
    for k, m in enumerate(manual):  # painted-mask tracks, tracks whose layer is gone, more on one layer
        if k not in restored:
            _restore(settings.tracks.add(), m)
    settings.track_index = min(settings.track_index, max(0, len(settings.tracks) - 1))
    return len(settings.tracks)


def generation_params(settings, seed_override=None) -> dict:
    params = {k: getattr(settings, k) for k in (
        "frames", "fps", "motion_bucket_id", "noise_aug_strength", "num_inference_steps",
        "min_guidance_scale", "max_guidance_scale", "tau", "alpha", "dual_clock_weak", "dual_clock_strong",
        "background_follow", "width", "height")}
    params["backend"] = settings.backend or None
    params["seed"] = None if settings.random_seed else int(settings.seed)
    if seed_override is not None:
        params["seed"] = seed_override
    return params


def collect(context, settings) -> tuple[np.ndarray, list[TrackInput], list[dict]]:
    """(reference RGB, enabled tracks, track metadata to store on the strip)."""
    img = reference_image(settings)
    w, h = img.size
    ref = capture.reference_rgb(img)
    arrows = all_arrows(context, settings, w, h)
    tracks, meta = [], []
    for t in settings.tracks:
        if not t.enabled:
            continue
        if t.arrow not in arrows:
            raise InputError(f"track {t.name!r}: arrow {t.arrow or '(none)'!r} not found — draw an arrow "
                             f"or pick one in the Motion Tracks list")
        mask = track_mask(settings, t, w, h)
        tracks.append(TrackInput(t.name, mask, arrows[t.arrow], t.easing))
        meta.append({"name": t.name, "mask_layer": t.mask_layer,
                     "mask_image": t.mask_image.name if t.mask_image else "", "arrow": t.arrow,
                     "easing": t.easing})
    if not tracks:
        raise InputError("Motion tracks: expected at least one enabled track (run Auto-Pair)")
    return ref, tracks, meta
