"""The one error type bad motion input raises: it names the field and says what was expected.

A ``ValueError`` so plain callers can catch it; ``field`` uses the protocol's dotted paths
(``tracks[1].mask``) so the server can turn it into a protocol error without guessing.
"""
from __future__ import annotations


class MotionInputError(ValueError):
    """Bad masks, arrows, easings or trajectories; ``field`` says which one."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
