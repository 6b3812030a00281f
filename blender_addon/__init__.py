"""TrackGo for Blender: paint masks, draw arrows, and stream generated frames into the sequencer.

Only register()/unregister() live here; they undo each other, so reloading works.
"""


def register():
    import importlib
    import sys

    # Reloading the add-on: drop the old submodules so edited code is picked up.
    for name in [n for n in sys.modules if n.startswith(__name__ + ".")]:
        if name.endswith((".protocol",)) or ".io" in name or ".blender" in name:
            del sys.modules[name]
    blender = importlib.import_module(".blender", __name__)
    blender.register()


def unregister():
    import sys

    blender = sys.modules.get(__name__ + ".blender")
    if blender is not None:
        blender.unregister()
