"""Panels and the track list drawn headless into a recording layout: every property, operator
and collection they name must exist (a typo would only show up in the UI otherwise)."""
from __future__ import annotations

from types import SimpleNamespace


from .conftest import build_scene  # noqa: F401  (fixture)


class Recorder:
    """Stands in for bpy.types.UILayout; checks names as it records them."""

    def __init__(self, log):
        self.log = log
        self.enabled = True
        self.scale_y = 1.0
        self.active = True

    def _child(self, *a, **k):
        return Recorder(self.log)

    column = row = box = split = _child

    def label(self, text="", icon="NONE", **k):
        self.log.append(("label", text))

    def prop(self, data, name, **k):
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        self.log.append(("prop", name))

    def prop_search(self, data, name, search_data, search_name, **k):
        assert name in data.bl_rna.properties and search_name in search_data.bl_rna.properties
        self.log.append(("prop_search", name, search_name))

    def operator(self, idname, **k):
        import bpy
        cat, op = idname.split(".")
        assert hasattr(getattr(bpy.ops, cat), op), f"no operator {idname}"
        self.log.append(("operator", idname))
        return SimpleNamespace()

    def operator_menu_enum(self, idname, prop, **k):
        import bpy
        cat, op = idname.split(".")
        assert prop in getattr(getattr(bpy.ops, cat), op).get_rna_type().properties, f"{idname} has no {prop!r}"
        self.log.append(("operator_menu_enum", idname, prop))

    def template_ID(self, data, name, **k):
        assert name in data.bl_rna.properties
        self.log.append(("template_ID", name))

    def template_list(self, list_type, list_id, data, prop, active_data, active_prop, **k):
        import bpy
        assert hasattr(bpy.types, list_type)
        assert prop in data.bl_rna.properties and active_prop in active_data.bl_rna.properties
        self.log.append(("template_list", prop))

    def progress(self, factor=0.0, type="BAR", text=""):
        assert 0.0 <= factor <= 1.0
        self.log.append(("progress", text))


def _draw_all(bpy):
    from blender_addon.blender import panels
    log = []
    context = bpy.context
    for cls in panels.CLASSES:
        if issubclass(cls, bpy.types.Panel):
            fake = SimpleNamespace(layout=Recorder(log))
            cls.draw(fake, context)
    return log


def test_every_panel_draws_with_real_names(build_scene, monkeypatch):
    import bpy
    from blender_addon.blender import panels, session

    scene = build_scene()
    st = scene.trackgo
    bpy.ops.trackgo.auto_pair()
    st.error = "server unreachable at tcp://127.0.0.1:1: no answer in 1 s (is it running? is the address right?)"
    st.busy, st.progress, st.progress_text = True, 0.4, "Frames 2/5"
    monkeypatch.setattr(session, "is_busy", lambda scene_name: True)  # the panel asks the session
    log = _draw_all(bpy)
    ops = {e[1] for e in log if e[0] == "operator"}
    assert {"trackgo.connect", "trackgo.generate", "trackgo.cancel", "trackgo.preview_points",
            "trackgo.auto_pair", "trackgo.regenerate", "trackgo.grab_sequencer_frame",
            "trackgo.use_editor_image"} <= ops
    assert ("progress", "Frames 2/5") in log
    assert ("prop_search", "arrow", "arrows") in log and ("template_list", "tracks") in log
    # The error is wrapped over several label lines, nothing lost.
    labels = " ".join(e[1] for e in log if e[0] == "label")
    assert st.error in labels
    # The track list row draws too.
    row = Recorder([])
    panels.TRACKGO_UL_tracks.draw_item(None, bpy.context, row, st, st.tracks[0], 0, st, "track_index")
    # Panels offer themselves in the Image Editor and the Sequencer preview only.
    image_space = SimpleNamespace(type="IMAGE_EDITOR")
    seq_preview = SimpleNamespace(type="SEQUENCE_EDITOR", view_type="PREVIEW")
    seq_timeline = SimpleNamespace(type="SEQUENCE_EDITOR", view_type="SEQUENCER")
    poll = panels._Base.poll.__func__
    assert poll(None, SimpleNamespace(space_data=image_space))
    assert poll(None, SimpleNamespace(space_data=seq_preview))
    assert not poll(None, SimpleNamespace(space_data=seq_timeline))
