"""First hour, item 2: a track keeps its own arrow when other strokes are erased; when its own
stroke is gone or edited, the panel says so on that track and Generate refuses."""
from __future__ import annotations

import json

import numpy as np
import pytest

from .conftest import ARROW_BOX, build_scene  # noqa: F401  (fixture)
from .test_panels import Recorder


def _strokes(bpy, st):
    """(remove(i), move_point(i)) for the scene's arrow strokes, in whichever data this Blender has."""
    if bpy.app.version < (4, 3, 0):
        frame = st.annotation.layers[0].frames[0]
        return (lambda i: frame.strokes.remove(frame.strokes[i]),
                lambda i: setattr(frame.strokes[i].points[0], "co", (0.70, 0.60, 0.0)))
    drawing = st.arrows_object.data.layers[0].frames[0].drawing
    return (lambda i: drawing.remove_strokes(indices=(i,)),
            lambda i: setattr(drawing.strokes[i].points[0], "position", (0.40625, 0.109, 0.0)))  # pixel (180, 50), in Box


def _row_text(bpy, st, name):
    from blender_addon.blender import panels
    log = []
    panels.TRACKGO_UL_tracks.draw_item(None, bpy.context, Recorder(log), st, st.tracks[name], 0, st, "track_index")
    return " ".join(e[1] for e in log if e[0] == "label")


def test_erasing_another_arrow_does_not_re_pair(build_scene):
    import bpy
    from blender_addon.blender import inputs

    scene = build_scene()
    st = scene.trackgo
    assert bpy.ops.trackgo.auto_pair() == {"FINISHED"}
    box_key = st.tracks["Box"].arrow
    assert json.loads(st.tracks["Box"].arrow_points)[0] == pytest.approx(list(ARROW_BOX[0]), abs=1e-3)
    remove, move = _strokes(bpy, st)
    remove(0)  # the Ball arrow is erased; Box's stroke is now the first one
    # Box keeps its own arrow: the job carries Box's points, not another stroke's.
    st.tracks["Ball"].enabled = False
    src = inputs.snapshot(bpy.context, st)
    assert [t.name for t in src.tracks] == ["Box"]
    assert np.allclose(src.tracks[0].arrow, ARROW_BOX, atol=1e-3)
    assert st.tracks["Box"].arrow == box_key and "stroke" in _row_text(bpy, st, "Box")
    # Ball's stroke is gone: the row says so and Generate refuses with that message.
    st.tracks["Ball"].enabled = True
    assert "arrow changed — re-pair?" in _row_text(bpy, st, "Ball")
    with pytest.raises(RuntimeError, match="track 'Ball': arrow changed — re-pair?"):
        bpy.ops.trackgo.generate()
    assert "arrow changed — re-pair?" in st.error
    # Editing Box's own stroke is a change too.
    move(0)
    assert "arrow changed — re-pair?" in _row_text(bpy, st, "Box")
    # Auto-Pair again: Box takes the edited stroke, Ball (no stroke left) has none.
    bpy.ops.trackgo.auto_pair()
    assert st.tracks["Box"].arrow and st.tracks["Box"].arrow != box_key
    assert _row_text(bpy, st, "Ball") == "no arrow"
