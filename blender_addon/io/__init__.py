"""Blender-free core of the add-on: socket client, job building, frame writing, geometry.

Nothing in this package imports ``bpy``, so all of it is unit-testable in any Python 3.11
environment that has numpy, pyzmq and msgpack (the add-on's wheels).
"""
