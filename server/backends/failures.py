"""How a backend failure is recognised and explained: shared by backends, workers and replicas.

Lives beside the backends (not in ``server.worker``) so a backend never reaches up into the
code that runs it.
"""
from __future__ import annotations

OOM_HINT = ("try a smaller width/height, fewer frames, a lower decode_chunk_size, "
            "or start the server with --cpu-offload")


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.cuda.OutOfMemoryError (and MPS/older torch's RuntimeError text) without importing torch."""
    if type(exc).__name__ == "OutOfMemoryError" or isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
