"""What a receiver accepts: sizes, counts and byte budgets, checked before work is done.

The server announces its `Limits` in `welcome` (see `to_body`); a client reads them
back with `from_body` and can check a job locally before sending it.
"""

from dataclasses import asdict, dataclass, fields

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Receiver limits. The first seven are announced in `welcome.limits`; all are optional there."""

    max_frames: int = 64                  # generated frames per job
    max_width: int = 2048                 # output width in pixels
    max_height: int = 2048                # output height in pixels
    max_pixels: int = 1024 * 1024         # output width * height
    max_tracks: int = 6                   # motion tracks per job (the paper's s = 6)
    max_message_bytes: int = 64 * MIB     # header + all payload frames
    max_queue: int = 32                   # jobs queued or running on the server, all clients
    max_header_bytes: int = 1 * MIB       # the msgpack header frame alone
    max_payloads: int = 16                # payload frames per message
    max_reference_pixels: int = 4096 * 4096  # reference image / mask width * height
    max_points: int = 4096                # points in one arrow or one polygon
    max_polygons: int = 64                # polygons in one polygon mask
    max_track_points: int = 1024          # points in one explicit point track (protocol 1.1)

    def to_body(self) -> dict:
        """All limits as a plain map for `welcome.limits`."""
        return asdict(self)

    @classmethod
    def from_body(cls, body: dict) -> "Limits":
        """Limits from a `welcome.limits` map; unknown keys ignored, missing ones defaulted,
        values that are not positive integers ignored (a client must not crash on them)."""
        known = {f.name for f in fields(cls)}
        chosen = {}
        if isinstance(body, dict):
            for key, value in body.items():
                if key in known and type(value) is int and value > 0:
                    chosen[key] = value
        return cls(**chosen)


# ---- liveness: the one dead-server rule (protocol.md section 8) ------------------------
SERVER_SILENCE_INTERVALS = 3      # heartbeat intervals of silence after which a client gives up
SERVER_SILENCE_MIN_S = 2.0        # ... and never sooner than this (a loaded machine may stall)


def server_lost_after(heartbeat_interval_s: float) -> float:
    """Seconds of silence after which a client treats the server as gone: every client uses this."""
    return max(SERVER_SILENCE_MIN_S, SERVER_SILENCE_INTERVALS * float(heartbeat_interval_s))
