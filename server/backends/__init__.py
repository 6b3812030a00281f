"""Backend registry: a name maps to a ``"module:factory"`` string, imported only when chosen.

Lazy imports keep ``trackgo-server --help`` and the ``preview`` backend free of torch.
Besides the built-in names, ``create_backend`` accepts a ``"package.module:factory"`` spec
directly (``--backend tests.server.fake_backend:create``), which is how tests and third parties
plug a backend in without editing this table.
"""
from __future__ import annotations

import importlib

from server.backends.base import (
    Backend,
    BackendError,
    BackendFactory,
    BackendOptions,
    Done,
    Event,
    Frame,
    JobContext,
    Progress,
)

# Each factory is called as factory(BackendOptions) -> Backend.
BUILTIN_BACKENDS: dict[str, str] = {
    "preview": "server.backends.preview:create_backend",
    "trackgo": "server.backends.trackgo:create_backend",
    "trackgo-tiny": "server.backends.trackgo:create_tiny_backend",
    "dualclock": "server.backends.dualclock:create_backend",
}


class UnknownBackend(ValueError):
    """The backend name is neither built in nor a loadable ``module:factory`` spec."""


def resolve_factory(name: str) -> BackendFactory:
    """Import and return the factory for a built-in name or a ``module:attr`` spec."""
    spec = BUILTIN_BACKENDS.get(name, name)
    if ":" not in spec:
        known = ", ".join(sorted(BUILTIN_BACKENDS))
        raise UnknownBackend(f"backend: unknown name {name!r}; expected one of {known} or 'module:factory'")
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownBackend(f"backend {name!r}: cannot import {module_name} ({exc})") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise UnknownBackend(f"backend {name!r}: {module_name} has no callable {attr!r}")
    return factory


def create_backend(name: str, options: BackendOptions | None = None) -> Backend:
    """Build (but do not load) the backend called ``name``."""
    backend = resolve_factory(name)(options or BackendOptions())
    if not getattr(backend, "name", None):
        backend.name = name
    return backend


__all__ = [
    "BUILTIN_BACKENDS", "Backend", "BackendError", "BackendFactory", "BackendOptions", "Done", "Event",
    "Frame", "JobContext", "Progress", "UnknownBackend", "create_backend", "resolve_factory",
]
