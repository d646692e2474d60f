"""``cuas keys``: generate CurveZMQ key pairs for the bus.

Each NAME gets two ZeroMQ certificate files in ``--dir``: ``NAME.key`` (the public key, to hand
out) and ``NAME.key_secret`` (public and secret key, readable by its owner only). The daemon's
pair is named in ``bus.server_secret_key`` (the daemon) and ``bus.server_public_key`` (everyone
else); each sensor's or operator's pair in its ``bus.client_secret_key``, and its public file
goes into the daemon's ``bus.allowed_clients`` directory (``--allow DIR`` puts it there), or
into ``bus.allowed_producers`` (sensors) or ``bus.allowed_consumers`` (operators, exporters,
recorders) where a site keeps them apart.

``--sign`` makes Ed25519 signing keys instead, for the recorder's tamper-evident manifests:
``NAME.sign.key`` (secret, mode 0600: ``cuas record --sign-key``) and ``NAME.sign.pub`` (to hand
to whoever checks recordings: ``cuas verify --key``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

#: A key name becomes a file name: keep it to a safe alphabet.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas keys``."""
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help="one key pair per name (e.g. daemon, radar-north, console-1)")
    parser.add_argument("--dir", default=".", metavar="DIR",
                        help="where to write NAME.key and NAME.key_secret (default: .)")
    parser.add_argument("--allow", metavar="DIR",
                        help="also copy each public key into DIR, an allow list of the daemon "
                        "(allowed_clients, allowed_producers or allowed_consumers)")
    parser.add_argument("--force", action="store_true", help="overwrite existing key files")
    parser.add_argument("--sign", action="store_true",
                        help="make Ed25519 signing keys for recording manifests (NAME.sign.key, "
                        "NAME.sign.pub) instead of CURVE bus keys")


def generate(name: str, directory: Path, *, force: bool = False) -> tuple[Path, Path, str]:
    """Write ``NAME.key`` and ``NAME.key_secret`` (mode 0600) in ``directory``; returns both
    paths and the Z85 public key. Raises ``FileExistsError`` unless ``force``."""
    import zmq.auth

    if not _NAME.match(name):
        raise ValueError(f"key name {name!r}: use letters, digits and _ . @ - (up to 64)")
    public_file = directory / f"{name}.key"
    secret_file = directory / f"{name}.key_secret"
    if not force and (public_file.exists() or secret_file.exists()):
        raise FileExistsError(f"{public_file} or {secret_file} exists (--force overwrites)")
    directory.mkdir(parents=True, exist_ok=True)
    # The secret file must never exist with loose permissions, even for a moment.
    old_umask = os.umask(0o077)
    try:
        pub, _ = zmq.auth.create_certificates(directory, name)
    finally:
        os.umask(old_umask)
    os.chmod(secret_file, 0o600)
    os.chmod(pub, 0o644)
    public, _secret = zmq.auth.load_certificate(pub)
    return Path(pub), secret_file, public.decode()


def run(args: argparse.Namespace) -> int:
    """Generate the key pairs; prints each public key and where the files went."""
    directory = Path(args.dir)
    if args.sign:
        return _run_sign(args, directory)
    for name in args.names:
        try:
            public_file, secret_file, public = generate(name, directory, force=args.force)
        except (ValueError, FileExistsError, OSError) as exc:
            print(f"cuas keys: error: {exc}", file=sys.stderr)
            return 1
        print(f"{name}: public key {public}")
        print(f"  public  {public_file}")
        print(f"  secret  {secret_file} (mode 0600: keep it on this machine)")
        if args.allow:
            allow = Path(args.allow)
            try:
                allow.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(public_file, allow / public_file.name)
            except OSError as exc:
                print(f"cuas keys: error: cannot copy into {allow}: {exc}", file=sys.stderr)
                return 1
            print(f"  allowed {allow / public_file.name}")
    return 0


def _run_sign(args: argparse.Namespace, directory: Path) -> int:
    from cuas.record.manifest import write_signing_key

    if args.allow:
        print("cuas keys: error: --allow is for CURVE bus keys, not --sign", file=sys.stderr)
        return 2
    for name in args.names:
        if not _NAME.match(name):
            print(f"cuas keys: error: key name {name!r}: use letters, digits and _ . @ - "
                  "(up to 64)", file=sys.stderr)
            return 1
        try:
            public_file, secret_file, kid = write_signing_key(name, directory, force=args.force)
        except (FileExistsError, OSError) as exc:
            print(f"cuas keys: error: {exc}", file=sys.stderr)
            return 1
        print(f"{name}: Ed25519 signing key {kid}")
        print(f"  public  {public_file} (for cuas verify --key)")
        print(f"  secret  {secret_file} (mode 0600: for cuas record --sign-key)")
    return 0
