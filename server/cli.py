"""``trackgo-server``: the console entry point of the model server."""
from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="trackgo-server", description="TrackGo model server (ZeroMQ).")


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return 0
