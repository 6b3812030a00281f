"""Turns the scene's TrackGo settings into job inputs: reference, masks, arrows, parameters.

Also the source listing and the automatic pairing the Motion Tracks list offers.
"""
from __future__ import annotations

import json

import numpy as np

from ..io import pairing
from ..io import prepare
from . import capture, compat
from .properties import GENERATION_SETTINGS, PALETTE


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


def _image_editor_spaces(context):
    """The Image Editors of every open window, the current one first."""
    space = getattr(context, "space_data", None)
    if space is not None and getattr(space, "type", "") == "IMAGE_EDITOR":
        yield space
    for window in getattr(getattr(context, "window_manager", None), "windows", ()) or ():
        for area in getattr(window.screen, "areas", ()):
            if area.type == "IMAGE_EDITOR" and area.spaces.active is not space:
                yield area.spaces.active


def annotation_source(context, settings):
    """Where the arrows are, the same from every panel (Image Editor or Sequencer preview):
    the chosen annotation, else one drawn in an Image Editor (one showing the reference first),
    else the scene's annotation."""
    if settings.annotation is not None:
        return settings.annotation
    drawn = [(getattr(sp, "image", None) == settings.reference, compat.space_annotation(sp))
             for sp in _image_editor_spaces(context)]
    drawn = [a for showing, a in sorted(drawn, key=lambda d: not d[0]) if a is not None]
    return drawn[0] if drawn else compat.scene_annotation(context.scene)


def captured_arrows(context, settings, width: int, height: int) -> list:
    out = list(capture.annotation_arrows(annotation_source(context, settings), width, height))
    if settings.arrows_object is not None:
        out += capture.camera_arrows(settings.arrows_object, context.scene, width, height)
    return out


def all_arrows(context, settings, width: int, height: int) -> dict[str, np.ndarray]:
    return {a.key: a.points for a in captured_arrows(context, settings, width, height)}


def current_arrow_keys(context, settings) -> set[str]:
    """The identities of the strokes there are now (cheap: no point is converted)."""
    keys = capture.annotation_keys(annotation_source(context, settings))
    if settings.arrows_object is not None:
        keys |= capture.object_keys(settings.arrows_object)
    return keys


ARROW_CHANGED = "arrow changed — re-pair?"


def arrow_problem(track, keys: set[str]) -> str:
    """'' when the track's own arrow is there; otherwise what the panel and Generate say."""
    if not track.arrow:
        return "no arrow"
    if track.arrow in keys:
        return ""
    return ARROW_CHANGED if track.arrow_points else "arrow not found"


def mask_layers(settings) -> list:
    return list(settings.mask.layers) if settings.mask is not None else []


def refresh_sources(context, settings) -> dict[str, np.ndarray]:
    """Fill the lists the track rows choose from; returns the arrows by key."""
    img = reference_image(settings)
    w, h = img.size
    settings.masks.clear()
    for layer in mask_layers(settings):
        item = settings.masks.add()
        item.name = layer.name
        item.label = layer.name
    captured = captured_arrows(context, settings, w, h)
    source = annotation_source(context, settings)
    if settings.annotation is None and source is not None and captured:
        settings.annotation = source  # pinned: every panel now reads the same strokes
    settings.arrows.clear()
    for a in captured:
        item = settings.arrows.add()
        item.name = a.key
        item.label = a.label
        item.tail_x, item.tail_y = float(a.points[0][0]), float(a.points[0][1])
        item.points = json.dumps(np.round(a.points, 3).tolist())
    return {a.key: a.points for a in captured}


_TRACK_FIELDS = ("name", "enabled", "mask_layer", "mask_image", "arrow", "arrow_points", "color", "easing",
                 "manual", "turn_along_arrow", "soft_edge",
                 "source", "object", "bone", "collection", "clip")      # what drives it (issue 14)


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
    manual = [_snapshot(t) for t in settings.tracks if t.manual or t.source != "PAINTED"]  # kept as they are
    manual_layers = {m["mask_layer"] for m in manual if m["mask_image"] is None and m["source"] == "PAINTED"}
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
            k = next(k for k, m in enumerate(manual) if m["mask_layer"] == layer.name and m["mask_image"] is None
                     and m["source"] == "PAINTED")
            _restore(t, manual[k])
            restored.add(k)
            continue
        t.name = layer.name
        t.mask_layer = layer.name
        t.color = PALETTE[i % len(PALETTE)]
        j = auto_layers.index(layer)
        t.arrow = free_keys[pairs[j]] if j in pairs else ""  # its update keeps a copy of the points
    for k, m in enumerate(manual):  # painted-mask tracks, tracks whose layer is gone, more on one layer
        if k not in restored:
            _restore(settings.tracks.add(), m)
    settings.track_index = min(settings.track_index, max(0, len(settings.tracks) - 1))
    return len(settings.tracks)


def generation_params(settings, seed_override=None) -> dict:
    params = {k: getattr(settings, k) for k in GENERATION_SETTINGS + ("width", "height")}
    params["backend"] = settings.backend or None
    params["seed"] = None if settings.random_seed else int(settings.seed)
    if seed_override is not None:
        params["seed"] = seed_override
    return params


def _track_source(settings, track, width: int, height: int):
    if track.mask_image is not None:
        return capture.painted_source(track.mask_image)
    layer = settings.mask.layers.get(track.mask_layer) if settings.mask is not None else None
    if layer is None:
        raise InputError(f"track {track.name!r}: mask layer {track.mask_layer!r} not found "
                         f"in mask {getattr(settings.mask, 'name', '(none)')!r}")
    return capture.mask_layer_data(layer, width, height)


def snapshot(context, settings, params: dict | None = None) -> prepare.JobSource:
    """Copy what a job needs out of Blender (main thread, short): mask splines, arrow points,
    settings, the reference's name and size. :func:`io.prepare.prepare` does the rest in a worker."""
    img = reference_image(settings)
    w, h = img.size
    from . import scene_sources  # scene objects and tracker markers: explicit point tracks (issue 14)
    enabled = [t for t in settings.tracks if t.enabled]
    pointed = [t for t in enabled if scene_sources.is_point_source(t)]
    made = dict(zip((t.as_pointer() for t in pointed),
                    scene_sources.list_tracks(context, pointed, w, h, settings.frames, settings.fps)))
    arrows = all_arrows(context, settings, w, h) if len(pointed) < len(enabled) else {}
    tracks, meta = [], []
    for t in enabled:            # the job's tracks in the list's order, whatever their source
        if t.as_pointer() in made:
            extra, extra_meta = scene_sources.job_inputs(made[t.as_pointer()])
            tracks += extra
            meta += [dict(m, track_source=t.source) for m in extra_meta]
            continue
        problem = arrow_problem(t, set(arrows))
        if problem == ARROW_CHANGED:
            raise InputError(f"track {t.name!r}: {ARROW_CHANGED} The stroke it followed was erased or "
                             f"edited: run Auto-Pair or pick its arrow again")
        if problem:
            raise InputError(f"track {t.name!r}: arrow {t.arrow or '(none)'!r} not found — draw an arrow "
                             f"or pick one in the Motion Tracks list")
        tracks.append(prepare.TrackSource(t.name, _track_source(settings, t, w, h), arrows[t.arrow], t.easing,
                                          t.turn_along_arrow, t.soft_edge))
        meta.append({"name": t.name, "mask_layer": t.mask_layer,
                     "mask_image": t.mask_image.name if t.mask_image else "", "arrow": t.arrow,
                     "easing": t.easing})
    if not tracks:
        raise InputError("Motion tracks: expected at least one enabled track (run Auto-Pair)")
    stored = params is not None and params.get("width") and params.get("height")
    params = dict(params or generation_params(settings))
    if stored:  # Regenerate: the size the strip was made at
        size = (int(params["width"]), int(params["height"]))
    else:
        size = None if settings.size_mode == "AUTO" else (int(settings.width), int(settings.height))
    # The pixels are copied by the timer in a call of their own (session.prepare): this one
    # stays short, and the buffer they land in is made ready off the main thread.
    from .reference_file import file_reference  # a big photo: read by a separate process (issue 16)
    return prepare.JobSource(None, w, h, bool(img.is_float), tracks, params,
                             fit=settings.fit.lower(), size=size, meta=meta, image_name=img.name,
                             reference_file=file_reference(img))
