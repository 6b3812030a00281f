"""First hour, item 8: one progress per job that never goes back, with one text in the panel,
Blender's status bar and on the strip."""
from __future__ import annotations

from .conftest import build_scene, connect, drive  # noqa: F401  (fixtures)


def test_progress_is_monotonic_and_the_same_everywhere(build_scene, slow_server, monkeypatch):
    import bpy
    from blender_addon.blender import compat, session, strips

    build_scene(frames=8)
    st = connect(bpy, slow_server.address)
    st.random_seed, st.seed = False, 8101
    bpy.ops.trackgo.auto_pair()
    bar = []
    monkeypatch.setattr(session, "_status_bar", lambda text: bar.append((text, st.progress_text)))
    seen = []

    def watch():
        seen.append((st.progress, st.progress_text))
        se = bpy.context.scene.sequence_editor
        for s in (compat.strips(se) if se is not None else []):
            if strips.PROP_PROGRESS in s:
                assert s[strips.PROP_PROGRESS] == st.progress_text
        return not st.busy

    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: watch() or st.progress_text.startswith("Frames 3/"), 60)   # the backend holds the 4th
    slow_server.release(8101)
    drive(watch, 60)
    values = [v for v, _ in seen]
    assert values == sorted(values), values          # never jumps back
    texts = [t for _, t in seen]
    assert any(t.startswith("Frames ") for t in texts)
    assert not any(t.startswith("Decoding") for t in texts)  # one count of frames, not two
    shown = [b for b in bar if b[0] is not None]
    assert shown and all(text == f"TrackGo: {panel}" for text, panel in shown)
    assert st.progress_text.startswith("Done") and st.progress == 1.0


def test_denoising_then_frames_is_one_rising_bar():
    from blender_addon.io.progress import JobProgress

    p = JobProgress()
    values = []
    steps = [("queued", 2), ("preparing", 0, 1), ("preparing", 1, 1)] + \
        [("denoising", k, 4) for k in range(1, 5)] + [("decoding", 1, 8), ("frames", 1, 8), ("preparing", 1, 1),
                                                     ("decoding", 9, 8), ("frames", 8, 8)]
    for s in steps:
        if s[0] == "queued":
            p.queued(s[1])
        elif s[0] == "frames":
            p.frames(s[1], s[2])
        else:
            p.stage(*s)
        values.append(p.value)
    assert values == sorted(values) and values[-1] == 1.0
    assert p.text == "Frames 8/8"
