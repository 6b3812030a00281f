"""TrackGo for Blender: paint masks, draw arrows, and stream generated frames into the sequencer.

Only register()/unregister() live here; they undo each other. When Blender reloads the add-on
("Reload Scripts" re-executes this file in the same module), the submodules are dropped first
so the edited code is what registers next.
"""
import sys as _sys

if "_LOADED" in globals():  # re-executed by importlib.reload: forget the old submodules
    for _name in [n for n in _sys.modules if n.startswith(__name__ + ".")]:
        del _sys.modules[_name]
        globals().pop(_name[len(__name__) + 1:], None)  # the package attribute too
_LOADED = True


def register():
    import importlib
    importlib.import_module(__name__ + ".blender").register()


def unregister():
    blender = _sys.modules.get(__name__ + ".blender")
    if blender is not None:
        blender.unregister()
