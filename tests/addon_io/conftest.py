"""Fixtures for the Blender-free add-on code (``blender_addon.io``): no ``bpy`` needed, so these
tests run in the server environment as well as in every Blender line."""
from __future__ import annotations

import pytest

from tests.addon_io.servers import start_server


@pytest.fixture(scope="session")
def server():
    srv = start_server("preview")
    yield srv
    srv.stop()
