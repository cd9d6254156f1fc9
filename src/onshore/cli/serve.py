"""``onshore serve``: the HTTP service (FastAPI + uvicorn), and its API keys."""

from __future__ import annotations

import ipaddress
import os
import ssl
import stat
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import click
from rich.table import Table

from onshore.cli._common import err_console, out_console, print_json
from onshore.cli.store import home_options, open_home, parse_time
from onshore.errors import BadInput

ROLES = ("ingest", "operator", "compliance", "auditor")
DEFAULT_MAX_BODY = 64 << 20


def _service() -> ModuleType:
    """``onshore.service``, or a clear error when the ``service`` extra is not installed."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401

        import onshore.service as service
    except ImportError as exc:
        raise click.ClickException(
            f"the HTTP service needs the service extra: pip install 'onshore[service]' ({exc})"
        ) from exc
    return service


@click.group("serve", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, envvar="ONSHORE_HOST")
@click.option("--port", default=8000, show_default=True, type=int, envvar="ONSHORE_PORT")
@click.option(
    "--areas",
    type=click.Path(dir_okay=False),
    help="Sensitive-area GeoJSON (default: $ONSHORE_AREAS, HOME/config.yaml, "
    "HOME/areas.geojson when present).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Processor configuration (default: $ONSHORE_CONFIG, HOME/config.yaml).",
)
@click.option(
    "--pack",
    "pack_name",
    help="Policy pack, by name or folder (default: $ONSHORE_PACK, HOME/config.yaml, cn-auto).",
)
@click.option(
    "--purpose",
    help="Purpose of collection when an ingest request names none (default: $ONSHORE_PURPOSE, "
    "HOME/config.yaml, national_monitoring).",
)
@click.option(
    "--max-body-bytes",
    default=DEFAULT_MAX_BODY,
    show_default=True,
    type=int,
    help="Larger request bodies are refused with 413.",
)
@click.option(
    "--readers",
    default=4,
    show_default=True,
    type=click.IntRange(min=0),
    help="Read-only requests served at once, each on database connections of its own, "
    "whatever a write is doing; 0 serves every request in turn behind the writer lock.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    envvar="ONSHORE_WORKERS",
    help="Service processes sharing the port (uvicorn workers), each with its own database "
    "connections and --readers; they share the ledger and the ingest key index through the "
    "database (PostgreSQL for several hosts). Env ONSHORE_WORKERS.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option("--access-log/--no-access-log", default=True, show_default=True)
@click.option(
    "--certfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="ONSHORE_CERTFILE",
    help="Serve HTTPS with this PEM certificate (chain); env ONSHORE_CERTFILE.",
)
@click.option(
    "--keyfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="ONSHORE_KEYFILE",
    help="The certificate's PEM private key (default: in --certfile); env ONSHORE_KEYFILE.",
)
@click.option(
    "--keyfile-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file holding the password of an encrypted --keyfile (never on the command line).",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data home (default: $ONSHORE_HOME or ./onshore-data).",
)
@click.option(
    "--db",
    metavar="URL",
    envvar="ONSHORE_DB",
    help="sqlite:///PATH or postgresql://… (default: HOME/meta.db; env ONSHORE_DB).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    areas: str | None,
    config_path: str | None,
    pack_name: str | None,
    purpose: str | None,
    max_body_bytes: int,
    readers: int,
    workers: int,
    log_level: str,
    access_log: bool,
    certfile: Path | None,
    keyfile: Path | None,
    keyfile_password_file: Path | None,
    home: Path | None,
    db: str | None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs and /openapi.json) on HOST:PORT.

    Every endpoint needs an API key with the right role (make one with `onshore serve keys
    add`). A client abroad (a key issued with --country, or X-Onshore-Client-Country) reads
    personal or important data only through the transfer gate. Errors are RFC 9457 problem
    details. Needs the service extra: pip install 'onshore[service]'.

    With --certfile (and --keyfile) it serves HTTPS; without, plain HTTP, which is for
    loopback or behind a TLS-terminating proxy: API keys and personal data would cross the
    network in clear.

    \b
    Example:
      onshore serve keys add --role ingest --name "gateway 1"
      onshore serve --host 127.0.0.1 --port 8000 --areas sample/areas.geojson
      onshore serve --host 0.0.0.0 --port 8443 --certfile tls/cert.pem --keyfile tls/key.pem
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"home": home, "db": db}
        return
    if max_body_bytes < 1:
        raise BadInput("--max-body-bytes must be positive", field="max-body-bytes")
    tls = _tls_options(certfile, keyfile, keyfile_password_file)
    service = _service()
    import uvicorn

    settings = service.ServiceSettings(
        home=home,
        db=db,
        pack=pack_name,
        areas=areas,
        config=config_path,
        max_body_bytes=max_body_bytes,
        default_purpose=purpose,
        readers=readers,
        worker=None,  # named per process: several may run on one database (--workers, hosts)
    )
    # Opened here even for workers: bad settings fail now, and a previous single service's
    # pending ingest batches are settled before the workers start.
    app = service.create_app(settings)
    base = f"{'https' if tls else 'http'}://{host}:{port}"
    processes = f"; {workers} worker processes" if workers > 1 else ""
    err_console.print(
        f"onshore serving {app.state.onshore.home.path} on {base} "
        f"(OpenAPI: {base}/docs; console: {base}/console/{processes})",
        highlight=False,
    )
    if tls is None and not _loopback(host):
        err_console.print(
            f"warning: plain HTTP on {host}: API keys and personal data cross the network in "
            "clear; use --certfile/--keyfile or a TLS-terminating proxy",
            highlight=False,
        )
    target: Any = app
    if workers > 1:
        from onshore.service.app import SETTINGS_ENV, settings_to_env

        app.state.onshore.close()
        os.environ[SETTINGS_ENV] = settings_to_env(settings)  # the spawned workers read it
        target = "onshore.service.app:worker_app"
    uvicorn.run(
        target,
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        ssl_certfile=tls.certfile if tls else None,
        ssl_keyfile=tls.keyfile if tls else None,
        ssl_keyfile_password=tls.password if tls else None,
    )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


class _TLS(NamedTuple):
    certfile: str
    keyfile: str | None
    password: str | None


def _tls_options(
    certfile: Path | None, keyfile: Path | None, password_file: Path | None
) -> _TLS | None:
    """What uvicorn needs for ``--certfile``/``--keyfile``, checked before serving."""
    if certfile is None:
        if keyfile is not None or password_file is not None:
            raise BadInput(
                "--keyfile and --keyfile-password-file need --certfile", field="certfile"
            )
        return None
    if keyfile is not None and stat.S_IMODE(keyfile.stat().st_mode) & 0o077:
        err_console.print(
            f"warning: {keyfile} may be read by group or others: chmod 600 {keyfile}",
            highlight=False,
        )
    password = None
    if password_file is not None:
        password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
    tls = _TLS(str(certfile), str(keyfile) if keyfile else None, password)
    try:  # a wrong password or a key that does not match fails here, not in uvicorn's thread
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.certfile, tls.keyfile, tls.password)
    except (ssl.SSLError, OSError) as exc:
        raise BadInput(f"cannot use the TLS certificate and key: {exc}", field="certfile") from exc
    return tls


@serve.group("keys")
def keys() -> None:
    """API keys of the service: stored as SHA-256 hashes, each with one role.

    \b
    Roles: ingest (send telemetry), operator (run the pipeline), compliance (transfers,
    approvals, subject rights), auditor (read only).

    Keys expire (--expires, default 365 days); `rotate` gives the holder a new key and
    retires the old one, at once or after --grace hours.

    \b
    Example:
      onshore serve keys add --role auditor --name "external audit" --expires 90
      onshore serve keys list
      onshore serve keys rotate 3f9a1c2b7d4e --grace 24
      onshore serve keys revoke 3f9a1c2b7d4e
    """


def _keys(home: Path | None, db: str | None, actor: str) -> tuple[Any, Any]:
    service = _service()
    data_home = open_home(home, db, actor)
    return data_home, service.ApiKeys(data_home.meta)


DEFAULT_EXPIRY_DAYS = 365
_EXPIRES_HELP = (
    "When the key stops working: DAYS from now, a DATE (YYYY-MM-DD, at 00:00 UTC) or time, "
    "or 'never' (said explicitly; not advised)."
)


def _validity(text: str) -> timedelta | datetime | None:
    """``--expires``: days, a date or time, or ``never`` (``None``)."""
    value = text.strip().lower()
    if value == "never":
        return None
    if value.isdigit():
        days = int(value)
        if days < 1:
            raise BadInput("--expires DAYS must be 1 or more", field="expires")
        return timedelta(days=days)
    moment = parse_time(text.strip(), "expires")
    assert moment is not None
    return moment


@keys.command("add")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--name",
    required=True,
    help="Who holds the key (for a client abroad: the recipient named in transfer approvals).",
)
@click.option("--country", help="Where the holder is (ISO 3166 alpha-2); not CN = abroad.")
@click.option(
    "--expires",
    default=str(DEFAULT_EXPIRY_DAYS),
    show_default=True,
    metavar="DAYS|DATE|never",
    help=_EXPIRES_HELP,
)
@click.option("--json", "as_json", is_flag=True, help="Print the key and its record as JSON.")
@home_options
def add(
    role: str,
    name: str,
    country: str | None,
    expires: str,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Make a key and print it, once: only its hash is kept.

    \b
    Example:
      onshore serve keys add --role compliance --name "DPO office"
      onshore serve keys add --role auditor --name "Acme GmbH" --country DE --expires 2027-06-30
    """
    validity = _validity(expires)
    data_home, store = _keys(home, db, actor)
    try:
        made = store.add(
            role,
            name=name,
            country=country,
            created_by=actor,
            now=data_home.now(),
            validity=validity,
        )
        until = made.record.expires_at or "never"
        data_home.record(
            "use",
            purpose="HTTP service access control",
            dataset="-",
            decision=f"API key {made.record.id} made for {name!r} with role {role}, "
            f"expires {until}",
            details={
                "key_id": made.record.id,
                "role": role,
                "country": made.record.country,
                "expires_at": made.record.expires_at,
            },
        )
    finally:
        data_home.close()
    if as_json:
        print_json(made.record.to_dict() | {"key": made.key})
        return
    click.echo(made.key)
    err_console.print(
        f"key {made.record.id} ({role}) for {name}, expires {until}: shown once, keep it safe",
        highlight=False,
    )


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@home_options
def list_keys(as_json: bool, home: Path | None, db: str | None, actor: str) -> None:
    """List keys (never their secrets): id, name, role, country, expiry, status.

    Status: active, retiring (rotated, valid until its revocation time), expired, revoked.
    """
    data_home, store = _keys(home, db, actor)
    try:
        records = store.list()
        now = data_home.now()
    finally:
        data_home.close()
    if as_json:
        print_json([r.to_dict(now) for r in records])
        return
    table = Table("id", "name", "role", "country", "created", "expires", "status")
    for r in records:
        status = r.status(now)
        if status == "retiring":
            status = f"retiring at {r.revoked_at} (replaced by {r.replaced_by})"
        table.add_row(
            r.id, r.name, r.role, r.country or "", r.created_at, r.expires_at or "never", status
        )
    out_console.print(table)


@keys.command("revoke")
@click.argument("key_id")
@home_options
def revoke(key_id: str, home: Path | None, db: str | None, actor: str) -> None:
    """Revoke KEY_ID at once: the next request with it is refused (401)."""
    data_home, store = _keys(home, db, actor)
    try:
        record = store.revoke(key_id, now=data_home.now())
        data_home.record(
            "use",
            purpose="HTTP service access control",
            dataset="-",
            decision=f"API key {key_id} revoked",
            details={"key_id": key_id, "role": record.role},
        )
    finally:
        data_home.close()
    click.echo(f"revoked {key_id} ({record.role}, {record.name})")


@keys.command("rotate")
@click.argument("key_id")
@click.option(
    "--grace",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0, max=24 * 365),
    metavar="HOURS",
    help="Keep the old key working this long, for clients to move to the new one.",
)
@click.option(
    "--expires",
    default=str(DEFAULT_EXPIRY_DAYS),
    show_default=True,
    metavar="DAYS|DATE|never",
    help="When the new key stops working: " + _EXPIRES_HELP.split(": ", 1)[1],
)
@click.option("--json", "as_json", is_flag=True, help="Print the new key and both records.")
@home_options
def rotate(
    key_id: str,
    grace: float,
    expires: str,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Give KEY_ID's holder a new key (same name, role and country) and revoke KEY_ID, at once
    or after --grace HOURS. The new key is printed, once.

    \b
    Example:
      onshore serve keys rotate 3f9a1c2b7d4e --grace 24
    """
    validity = _validity(expires)
    data_home, store = _keys(home, db, actor)
    try:
        old, made = store.rotate(
            key_id,
            grace=timedelta(hours=grace),
            created_by=actor,
            now=data_home.now(),
            validity=validity,
        )
        data_home.record(
            "use",
            purpose="HTTP service access control",
            dataset="-",
            decision=f"API key {key_id} rotated: replaced by {made.record.id}, "
            f"revoked at {old.revoked_at}",
            details={
                "key_id": key_id,
                "new_key_id": made.record.id,
                "role": old.role,
                "revoked_at": old.revoked_at,
                "expires_at": made.record.expires_at,
            },
        )
        now = data_home.now()
    finally:
        data_home.close()
    if as_json:
        print_json({"old": old.to_dict(now), "new": made.record.to_dict(now), "key": made.key})
        return
    click.echo(made.key)
    err_console.print(
        f"key {made.record.id} ({old.role}) for {old.name} replaces {key_id}, which stops "
        f"working at {old.revoked_at}; the new key expires {made.record.expires_at or 'never'}: "
        "shown once, keep it safe",
        highlight=False,
    )
