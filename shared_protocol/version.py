"""Protocol version and the one rule that decides whether two peers can talk.

Majors must match exactly; minors may differ (a newer minor only adds optional
fields and message types, which an older peer ignores).
"""

PROTOCOL_VERSION: tuple[int, int] = (1, 1)


def is_compatible(peer: tuple[int, int] | list[int], ours: tuple[int, int] = PROTOCOL_VERSION) -> bool:
    """True when a peer speaking `peer` can talk to us: same major, any minor."""
    return int(peer[0]) == int(ours[0])


def negotiated(peer: tuple[int, int] | list[int], ours: tuple[int, int] = PROTOCOL_VERSION) -> tuple[int, int]:
    """The version both sides understand: the common major and the lower minor."""
    return (int(ours[0]), min(int(ours[1]), int(peer[1])))
