"""Add-on preferences: where the server is, how long to wait, CURVE keys, local server."""

from types import SimpleNamespace

import bpy
from bpy.props import BoolProperty, FloatProperty, StringProperty

ADDON_PACKAGE = __package__.rpartition(".")[0]  # "blender_addon" or "bl_ext.<repo>.trackgo_blender"
DEFAULT_ADDRESS = "tcp://127.0.0.1:5555"


class TRACKGO_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    server_address: StringProperty(name="Server Address", default=DEFAULT_ADDRESS,
                                   description="ZeroMQ address of the TrackGo server")
    timeout: FloatProperty(name="Time-out (s)", default=10.0, min=1.0, max=600.0,
                           description="How long to wait for the server before calling it unreachable or lost")
    server_public_key: StringProperty(name="Server Public Key", default="",
                                      description="CURVE key of a remote server: Z85 text or its server.key "
                                                  "file (empty: no encryption, loopback server)")
    client_public_key: StringProperty(name="Client Public Key", default="",
                                      description="Z85 text or .key file (optional with a .key_secret file)")
    client_secret_key: StringProperty(name="Client Secret Key", default="", subtype="PASSWORD",
                                      description="Z85 text or the path of your .key_secret file "
                                                  "(made with trackgo-keygen)")
    start_local_server: BoolProperty(name="Start a Local Server", default=False,
                                     description="Launch the server from a local Python environment on connect")
    server_python: StringProperty(name="Server Python", default="", subtype="FILE_PATH",
                                  description="python of the server environment (…/.venvs/server/bin/python)")
    server_backend: StringProperty(name="Local Backend", default="preview",
                                   description="Backend the local server runs (preview needs no weights)")

    def draw(self, context):
        col = self.layout.column()
        col.prop(self, "server_address")
        col.prop(self, "timeout")
        box = col.box()
        box.label(text="Remote server (CURVE encryption)")
        box.prop(self, "server_public_key")
        box.prop(self, "client_public_key")
        box.prop(self, "client_secret_key")
        box = col.box()
        box.prop(self, "start_local_server")
        sub = box.column()
        sub.enabled = self.start_local_server
        sub.prop(self, "server_python")
        sub.prop(self, "server_backend")


FALLBACK = SimpleNamespace(server_address=DEFAULT_ADDRESS, timeout=10.0, server_public_key="",
                            client_public_key="", client_secret_key="", start_local_server=False,
                            server_python="", server_backend="preview")


def get(context=None):
    """The preferences, or their defaults when the add-on runs unregistered (scripts, tests)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_PACKAGE) if context.preferences else None
    return addon.preferences if addon is not None and addon.preferences is not None else FALLBACK


CLASSES = (TRACKGO_AP_preferences,)
