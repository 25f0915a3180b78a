"""The `casegraph` command line (RUNNING.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from server.clock import server_clock
from server.database import database_url
from server.logging_setup import configure_logging, logging_config
from server.settings import Settings, sqlalchemy_url

__all__ = ["main"]

T = TypeVar("T")


class CommandError(Exception):
    """A failure to report in one line, without a traceback."""


def _in_session(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction (committed when it returns, rolled back when it raises)."""

    async def run() -> T:
        engine = make_engine(sqlalchemy_url(url), pool_size=2)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    with database_url(settings) as url:
        if not args.no_migrate:
            upgrade(sqlalchemy_url(url))
        os.environ["DATABASE_URL"] = url
        settings = Settings()
        _check_before_serving(url, settings)
        if args.seed_demo:
            _seed_if_empty(url, args.requests, settings)
        logging.getLogger("casegraph").info("serving on http://%s:%s/graphql", args.host, args.port)
        # uvicorn re-raises SIGTERM after its graceful shutdown; exit through Python so the
        # private PostgreSQL started above is stopped too.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        uvicorn.run(
            "server.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=True,
            ws_ping_interval=20.0,
            ws_ping_timeout=20.0,
            # Events are a few hundred bytes of JSON: per-message compression saved little on the
            # wire and cost every socket a zlib context (~35 KiB) plus CPU on every frame sent.
            ws_per_message_deflate=False,
            # Our logging in every worker; server.request_log replaces uvicorn's access log.
            log_config=logging_config(settings.effective_log_format, settings.log_level),
            access_log=False,
        )


def _check_before_serving(url: str, settings: Settings) -> None:
    """Refuse to start, in one line, on what would fail later: keys, CORS origins."""
    from auth.keys import NoSigningKeyError, ProductionKeyError
    from server.key_commands import KeyCommandError, prepare_keys

    try:
        settings.allowed_origins  # noqa: B018 (parsed and checked here)
        # Production: an explicitly created key (`casegraph rotate-key`), sealed (OAUTH_KEY_ENCRYPTION_KEY).
        _in_session(url, lambda s: prepare_keys(s, settings))
    except (ValueError, ProductionKeyError, NoSigningKeyError, KeyCommandError) as exc:
        raise CommandError(str(exc)) from exc


def _seed_if_empty(url: str, requests: int, settings: Settings) -> None:
    from sqlalchemy import func, select

    from db.models import Customer

    async def count(session: AsyncSession) -> int:
        return int((await session.execute(select(func.count()).select_from(Customer))).scalar_one())

    if _in_session(url, count) == 0:
        _seed(url, requests, settings)


def _seed(url: str, requests: int, settings: Settings) -> None:
    from demo.seed import seed_demo

    async def run() -> Any:
        engine = make_engine(sqlalchemy_url(url), pool_size=4)
        try:
            # The server's clock (CASEGRAPH_CLOCK shifts it): the demo's ages are relative to it.
            now = server_clock(settings.clock_start, production=settings.is_production)()
            return await seed_demo(engine, requests=requests, now=now)
        finally:
            await engine.dispose()

    summary = asyncio.run(run())
    print(f"demo data: {summary}", file=sys.stderr)


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    with database_url(settings) as url:
        upgrade(sqlalchemy_url(url))
    print("database migrated to head", file=sys.stderr)


def _cmd_import(args: argparse.Namespace, settings: Settings) -> None:
    from importer.master_data import ImportRejected, import_master_data

    raw = sys.stdin.read() if args.file == "-" else _read(args.file)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{args.file}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CommandError(f"{args.file}: the file must hold one JSON object")
    with database_url(settings) as url:
        upgrade(sqlalchemy_url(url))
        try:
            summary = _in_session(url, lambda s: import_master_data(s, data))
        except ImportRejected as exc:
            raise CommandError(f"import rejected, nothing written: {exc}") from exc
    print(f"imported: {summary}", file=sys.stderr)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc


def _cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> None:
    with database_url(settings) as url:
        upgrade(sqlalchemy_url(url))
        _seed(url, args.requests, settings)


def _cmd_token(args: argparse.Namespace, settings: Settings) -> None:
    if settings.is_production:
        raise CommandError("the development token command is disabled when CASEGRAPH_ENV=production")
    from auth.devtoken import mint_dev_token
    from server.authn import key_vault

    async def mint(session: AsyncSession) -> str:
        return await mint_dev_token(
            session,
            issuer=settings.oauth_issuer,
            audience=settings.oauth_audience,
            subject=args.subject,
            roles=args.role or [],
            customer_ref=args.customer_id,
            scope=args.scope,
            ttl=args.ttl,
            vault=key_vault(settings),
        )

    with database_url(settings) as url:
        upgrade(sqlalchemy_url(url))
        token = _in_session(url, mint)
    print(token)


def _cmd_partner_secret(args: argparse.Namespace, settings: Settings) -> None:
    from auth.secrets import issue_partner_secret

    with database_url(settings) as url:
        upgrade(sqlalchemy_url(url))
        try:
            secret = _in_session(url, lambda s: issue_partner_secret(s, args.client_id))
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
    print(secret)


def _cmd_keys(args: argparse.Namespace, settings: Settings) -> None:
    """rotate-key, retire-key, encrypt-keys, list-keys (server.key_commands)."""
    from server import key_commands as keys

    work = {
        "rotate-key": lambda s: keys.rotate_key(s, settings),
        "retire-key": lambda s: keys.retire_key(s, args.kid),
        "encrypt-keys": lambda s: keys.encrypt_keys(s, settings),
        "list-keys": keys.list_keys,
    }[args.command]
    with database_url(settings) as url:
        upgrade(sqlalchemy_url(url))
        try:
            result = _in_session(url, work)
        except keys.KeyCommandError as exc:
            raise CommandError(str(exc)) from exc
    for line in [result] if isinstance(result, str) else result or []:
        print(line)


def _cmd_documents_register(args: argparse.Namespace, settings: Settings) -> None:
    from db.repositories.limits import register_documents
    from server.limits.manifest import ManifestError, read_manifest
    from server.schema import build_schema

    try:
        documents = read_manifest(_read(args.manifest), build_schema()._schema)
    except ManifestError as exc:
        raise CommandError(f"{args.manifest}: {exc}; nothing registered") from exc
    with database_url(settings) as url:
        upgrade(sqlalchemy_url(url))
        added = _in_session(url, lambda s: register_documents(s, documents=documents))
    print(f"trusted documents: {added} registered, {len(documents) - added} already known", file=sys.stderr)


def _mail_limits(settings: Settings) -> Any:
    from mail.intake import IntakeLimits

    return IntakeLimits(max_attachment_bytes=settings.mail_max_attachment_bytes)


def _cmd_mail_import(args: argparse.Namespace, settings: Settings) -> None:
    """One RFC 5322 message through the intake; prints what it did (EMAIL.md)."""
    from mail.intake import process_message

    if args.file == "-":
        raw = sys.stdin.buffer.read()
    else:
        try:
            with open(args.file, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise CommandError(f"cannot read {args.file}: {exc.strerror}") from exc
    if len(raw) > settings.mail_max_bytes:
        raise CommandError(f"message of {len(raw)} bytes exceeds MAIL_MAX_BYTES ({settings.mail_max_bytes})")

    async def run(url: str) -> Any:
        engine = make_engine(sqlalchemy_url(url), pool_size=2)
        try:
            return await process_message(
                make_sessionmaker(engine),
                raw,
                clock=server_clock(settings.clock_start, production=settings.is_production),
                envelope_from=args.sender,
                recipients=args.recipient or [],
                limits=_mail_limits(settings),
            )
        finally:
            await engine.dispose()

    with database_url(settings) as url:
        upgrade(sqlalchemy_url(url))
        outcome = asyncio.run(run(url))
    print(outcome)


def _cmd_mail_intake(args: argparse.Namespace, settings: Settings) -> None:
    """The SMTP/LMTP server an MTA delivers to, until SIGINT/SIGTERM."""
    from mail.smtp import IntakeHandler, start_intake_server

    async def run(url: str) -> None:
        engine = make_engine(sqlalchemy_url(url), pool_size=settings.db_pool_size)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        handler = IntakeHandler(
            make_sessionmaker(engine),
            clock=server_clock(settings.clock_start, production=settings.is_production),
            limits=_mail_limits(settings),
            lmtp=args.lmtp,
        )
        server = await start_intake_server(
            handler, host=args.host, port=args.port, max_bytes=settings.mail_max_bytes
        )
        port = server.sockets[0].getsockname()[1]
        kind = "LMTP" if args.lmtp else "SMTP"
        print(f"mail intake ({kind}) listening on {args.host}:{port}", file=sys.stderr, flush=True)
        try:
            await stop.wait()
        finally:
            server.close()
            await server.wait_closed()
            await engine.dispose()

    with database_url(settings) as url:
        upgrade(sqlalchemy_url(url))
        asyncio.run(run(url))


def _cmd_mail_outbound(args: argparse.Namespace, settings: Settings) -> None:
    """The outbound mail worker alone (`serve` runs it too where CASEGRAPH_WORKERS is on)."""
    from resolvers.context import AppServices
    from server.workers import mail_worker_for

    async def run(url: str) -> None:
        engine = make_engine(sqlalchemy_url(url), pool_size=4)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        clock = server_clock(settings.clock_start, production=settings.is_production)
        services = AppServices(engine=engine, sessionmaker=make_sessionmaker(engine), clock=clock)
        try:
            async with mail_worker_for(settings, services, interval=args.interval):
                print("outbound mail worker running", file=sys.stderr, flush=True)
                await stop.wait()
        finally:
            await engine.dispose()

    with database_url(settings) as url:
        upgrade(sqlalchemy_url(url))
        asyncio.run(run(url))


def _cmd_export_schema(args: argparse.Namespace, settings: Settings) -> None:
    from server.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="casegraph", description="casegraph GraphQL API server")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (migrates first unless --no-migrate)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-migrate", action="store_true")
    serve.add_argument(
        "--seed-demo", action="store_true", help="load the demo organisation when the database is empty"
    )
    serve.add_argument("--requests", type=int, default=300, help="demo requests with --seed-demo")
    serve.set_defaults(func=_cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=_cmd_migrate)

    imp = sub.add_parser("import", help="master-data import (IMPORT.md)")
    imp.add_argument("file", help="JSON file, or - for standard input")
    imp.set_defaults(func=_cmd_import)

    seed = sub.add_parser("seed-demo", help="demo organisation and N demo requests")
    seed.add_argument("--requests", type=int, default=300)
    seed.set_defaults(func=_cmd_seed_demo)

    tok = sub.add_parser("token", help="print a development access token")
    tok.add_argument("--subject", required=True)
    tok.add_argument("--role", action="append", help="repeatable")
    tok.add_argument("--customer-id", help="the customer's externalRef (CUSTOMER tokens)")
    tok.add_argument("--scope", help='space-separated, e.g. "requests:read requests:write"')
    tok.add_argument("--ttl", type=int, default=3600)
    tok.set_defaults(func=_cmd_token)

    ps = sub.add_parser("partner-secret", help="issue or rotate a partner's client secret")
    ps.add_argument("client_id")
    ps.set_defaults(func=_cmd_partner_secret)

    sub.add_parser("rotate-key", help="create a new signing key for the built-in issuer").set_defaults(
        func=_cmd_keys
    )
    retire = sub.add_parser("retire-key", help="stop publishing a signing key (its tokens stop verifying)")
    retire.add_argument("kid")
    retire.set_defaults(func=_cmd_keys)
    sub.add_parser(
        "encrypt-keys", help="seal stored signing keys with OAUTH_KEY_ENCRYPTION_KEY (prints the kids sealed)"
    ).set_defaults(func=_cmd_keys)
    sub.add_parser("list-keys", help="the stored signing keys and how each is kept").set_defaults(
        func=_cmd_keys
    )
    sub.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(func=_cmd_export_schema)

    documents = sub.add_parser("documents", help="trusted documents (LIMITS.md)")
    documents_sub = documents.add_subparsers(dest="documents_command", required=True)
    register = documents_sub.add_parser(
        "register",
        help="load a persisted-documents manifest (SHA-256 -> document), as the SDK build writes it",
    )
    register.add_argument("manifest", help="MANIFEST.json")
    register.set_defaults(func=_cmd_documents_register)

    intake = sub.add_parser(
        "mail-intake", help="the SMTP (or LMTP) server an MTA delivers mail to (EMAIL.md)"
    )
    intake.add_argument("--host", default="127.0.0.1")
    intake.add_argument("--port", type=int, default=2525, help="0: a free port (printed)")
    intake.add_argument("--lmtp", action="store_true", help="speak LMTP instead of SMTP")
    intake.set_defaults(func=_cmd_mail_intake)

    mail_import = sub.add_parser("mail-import", help="process one RFC 5322 message (an MTA pipe, scripts)")
    mail_import.add_argument("file", help="FILE.eml, or - for standard input")
    mail_import.add_argument("--sender", help="the envelope sender (return path), if known")
    mail_import.add_argument("--recipient", action="append", help="envelope recipient (repeatable)")
    mail_import.set_defaults(func=_cmd_mail_import)

    outbound = sub.add_parser("mail-outbound", help="run only the outbound mail worker (SMTP_URL)")
    outbound.add_argument("--interval", type=float, default=1.0, help="seconds between idle polls")
    outbound.set_defaults(func=_cmd_mail_outbound)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.effective_log_format, settings.log_level)
    try:
        args.func(args, settings)
    except CommandError as exc:
        print(f"casegraph {args.command}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
