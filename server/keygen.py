"""``trackgo-keygen``: create a CURVE key pair for the server or for one client.

Thin wrapper over ``zmq.auth.create_certificates``: it writes ``NAME.key`` (public, safe to
copy) and ``NAME.key_secret`` (keep private; made readable by its owner only).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="trackgo-keygen",
        description="Create a CURVE key pair (NAME.key + NAME.key_secret) for trackgo-server or a client.")
    ap.add_argument("name", nargs="?", default="server",
                    help="base name of the key files, e.g. 'server' or 'alice-laptop' (default: server)")
    ap.add_argument("--dir", default=".", help="folder to write the key files into (default: current folder)")
    ap.add_argument("--force", action="store_true", help="overwrite existing key files")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import zmq.auth

    name = args.name
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        print(f"trackgo-keygen: error: name: expected a plain file name, got {name!r}", file=sys.stderr)
        return 2
    folder = Path(args.dir)
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    if not args.force and (public.exists() or secret.exists()):
        print(f"trackgo-keygen: error: {public} or {secret} already exists (use --force to replace)",
              file=sys.stderr)
        return 1
    old_umask = os.umask(0o077)   # the secret file is never readable by others, not even briefly
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if args.force:
            secret.unlink(missing_ok=True)   # an existing file would keep its old (maybe wider) mode
        pub_path, sec_path = zmq.auth.create_certificates(folder, name)
        os.chmod(sec_path, 0o600)
        os.chmod(pub_path, 0o644)
    except OSError as exc:
        print(f"trackgo-keygen: error: cannot write keys into {folder} ({exc})", file=sys.stderr)
        return 1
    finally:
        os.umask(old_umask)
    print(f"public key: {pub_path}")
    print(f"secret key: {sec_path}  (keep it private)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
