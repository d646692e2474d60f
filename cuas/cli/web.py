"""``cuas web``: the operator's browser console; ``cuas web user ...``: its accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="CFG",
                        help="site configuration (TOML; its [web] section); default: the "
                             "reference site")
    parser.add_argument("--listen", metavar="HOST:PORT",
                        help="listen here (overrides web.listen)")
    parser.add_argument("--trk-endpoint", metavar="URL",
                        help="the daemon's track endpoint (overrides bus.tracks)")
    parser.add_argument("--ack-endpoint", metavar="URL",
                        help="publish acknowledgements here (overrides web.ack_endpoint, "
                             "default bus.detections)")
    sub = parser.add_subparsers(dest="web_command", metavar="{user,audit}")
    user = sub.add_parser("user", help="manage the console's accounts (web.users_file)")
    act = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = act.add_parser("add", help="add a user, or set an existing one's password and role")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("viewer", "operator", "admin"),
                     help="viewer sees; operator also acknowledges; admin also manages users")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    remove = act.add_parser("remove", help="remove a user (their sessions end)")
    remove.add_argument("name")
    role = act.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=("viewer", "operator", "admin"))
    act.add_parser("list", help="list the users and their roles")
    check = sub.add_parser("audit", help="check the audit log's hash chain (web.audit_log)")
    check.add_argument("--file", metavar="FILE", help="another audit log to check")


def _password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print("cuas web user add: give --password-stdin, or run it on a terminal",
              file=sys.stderr)
        return None
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        print("cuas web user add: the passwords differ", file=sys.stderr)
        return None
    return first


def _user(args: argparse.Namespace, config: object) -> int:
    from cuas.config import Config
    from cuas.web.accounts import Accounts
    from cuas.web.audit import AuditLog
    from cuas.web.server import resolve

    assert isinstance(config, Config)
    accounts = Accounts(resolve(config, config.web.users_file))
    who = f"cli:{getpass.getuser()}"
    if args.user_command == "list":
        for name, role in accounts.names():
            print(f"{name}\t{role}")
        return 0
    audit = AuditLog(resolve(config, config.web.audit_log))
    try:
        if args.user_command == "add":
            password = _password(args.password_stdin)
            if password is None:
                return 2
            accounts.add(args.name, args.role, password)
            audit.append(who, "admin", "user_added", note=f"{args.name} as {args.role}")
            print(f"cuas web: {args.name} is a{'n' if args.role[0] in 'aeiou' else ''} "
                  f"{args.role} ({accounts.path})")
        elif args.user_command == "remove":
            accounts.remove(args.name)
            audit.append(who, "admin", "user_removed", note=args.name)
        else:
            accounts.set_role(args.name, args.role)
            audit.append(who, "admin", "role_changed", note=f"{args.name} to {args.role}")
    finally:
        audit.close()
    return 0


def run(args: argparse.Namespace) -> int:
    from cuas.config import load_config, reference_config

    config = load_config(args.config) if args.config else reference_config()
    if args.web_command == "user":
        return _user(args, config)
    if args.web_command == "audit":
        from cuas.web.audit import verify
        from cuas.web.server import resolve

        path = args.file or resolve(config, config.web.audit_log)
        print(f"cuas web: {path}: {verify(path)} records, the hash chain holds")
        return 0
    return asyncio.run(_serve(config, args))


async def _serve(config: object, args: argparse.Namespace) -> int:
    import signal

    from cuas.config import Config
    from cuas.web.server import Console

    assert isinstance(config, Config)
    console = Console(config, tracks_endpoint=args.trk_endpoint, ack_endpoint=args.ack_endpoint,
                      listen=args.listen)
    if not len(console.accounts):
        print(f"cuas web: no accounts in {console.accounts.path}: add one with `cuas web user "
              "add NAME --role admin`", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(console.run(stop))
    ready = asyncio.create_task(console.ready.wait())
    await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
    if ready.done():
        print(f"cuas web: console at {console.url} (tracks from {console.feed.tracks_endpoint}; "
              "Ctrl-C stops)", file=sys.stderr, flush=True)
    else:
        ready.cancel()
    await task
    return 0
