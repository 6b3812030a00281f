"""The wire protocol, from one source of truth.

An installed extension carries a vendored copy of ``shared_protocol`` in ``_vendor/`` (the
build puts it there); a development checkout imports the repository's top-level package.
"""
import importlib

try:
    from ._vendor import shared_protocol as sp  # type: ignore[attr-defined]
except ImportError:  # development checkout: the repository root is on sys.path
    import shared_protocol as sp

# Make the submodules the add-on uses attributes of `sp` whatever the package __init__ imports.
for _name in ("errors", "images", "limits", "messages", "version", "codec", "validation", "point_count"):
    importlib.import_module(f"{sp.__name__}.{_name}")

__all__ = ["sp"]
