"""``onshore ingest mqtt``: the MQTT worker."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import click

from onshore.cli._common import err_console, out_console, print_json
from onshore.cli.store import home_options, open_home
from onshore.errors import BadInput, StorageUnavailable
from onshore.store import DEFAULT_STORE

DEFAULT_TOPICS = ("vehicles/+/telemetry=json", "vehicles/+/gbt32960=gbt32960")


@click.group("ingest")
def ingest() -> None:
    """Ingest runners that keep running: the MQTT worker.

    \b
    Example:
      onshore ingest mqtt --topic 'vehicles/+/telemetry=json' \\
          --topic 'vehicles/+/gbt32960=gbt32960' --areas sample/areas.geojson
    """


@ingest.command("mqtt")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    metavar="PATTERN=FORMAT[:DATASET]",
    help="Topic filter, message format (json, gbt32960) and dataset; repeatable. "
    f"Default: {' and '.join(DEFAULT_TOPICS)} (datasets telemetry, gbt32960).",
)
@click.option("--host", default="127.0.0.1", show_default=True, envvar="ONSHORE_MQTT_HOST")
@click.option("--port", default=1883, show_default=True, type=int, envvar="ONSHORE_MQTT_PORT")
@click.option(
    "--client-id",
    envvar="ONSHORE_MQTT_CLIENT_ID",
    help="Session id, the same across restarts; each worker its own. "
    "Default: onshore-ingest, or onshore-ingest-GROUP-HOST with --group.",
)
@click.option(
    "--group",
    envvar="ONSHORE_MQTT_GROUP",
    help="Share the topics with the other workers of this group (MQTT 5 shared subscription "
    "$share/GROUP/…): each message goes to one of them. Give every worker its own --client-id "
    "and the same metadata database (--db or ONSHORE_DB).",
)
@click.option(
    "--takeover-after",
    default=30.0,
    show_default=True,
    help="Seconds without a heartbeat after which another worker counts as dead and its "
    "unfinished batches may be settled by this one.",
)
@click.option("--protocol", type=click.Choice(["5", "311"]), default="5", show_default=True)
@click.option("--username", envvar="ONSHORE_MQTT_USERNAME")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="ONSHORE_MQTT_PASSWORD_FILE",
    help="File holding the broker password (its first line). Or set ONSHORE_MQTT_PASSWORD; "
    "never on the command line, where ps shows it.",
)
@click.option("--tls", is_flag=True, help="TLS 1.2+ to the broker (implied by the next three).")
@click.option(
    "--cafile",
    type=click.Path(exists=True, dir_okay=False),
    envvar="ONSHORE_MQTT_CAFILE",
    help="CA certificates that verify the broker (default: the system's).",
)
@click.option(
    "--certfile",
    type=click.Path(exists=True, dir_okay=False),
    envvar="ONSHORE_MQTT_CERTFILE",
    help="Client certificate (PEM), for brokers that require one.",
)
@click.option(
    "--keyfile",
    type=click.Path(exists=True, dir_okay=False),
    envvar="ONSHORE_MQTT_KEYFILE",
    help="The client certificate's private key (default: in --certfile).",
)
@click.option("--keepalive", default=30, show_default=True, help="MQTT keep-alive (seconds).")
@click.option(
    "--max-packet",
    default=8 << 20,
    show_default=True,
    help="Largest MQTT packet taken (bytes); announced to the broker, which drops larger ones.",
)
@click.option("--purpose", default="national_monitoring", show_default=True)
@click.option("--areas", type=click.Path(dir_okay=False), help="Sensitive-area GeoJSON.")
@click.option("--store", "store_name", default=DEFAULT_STORE, show_default=True)
@click.option("--origin", help="Jurisdiction where the data was collected (default: the pack's).")
@click.option("--max-messages", default=5000, show_default=True, help="Batch size limit.")
@click.option("--max-wait", default=0.25, show_default=True, help="Batch age limit (seconds).")
@click.option(
    "--ack-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the keys (vin, ts, kind, time) of every acknowledged row to this file.",
)
@click.option(
    "--idle-exit", type=float, help="Stop after this many seconds without a message (tests)."
)
@click.option("--verbose", is_flag=True, help="One JSON line per batch on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print the totals as JSON at the end.")
@home_options
def mqtt(
    topics: tuple[str, ...],
    host: str,
    port: int,
    client_id: str | None,
    group: str | None,
    takeover_after: float,
    protocol: str,
    username: str | None,
    password_file: Path | None,
    tls: bool,
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
    keepalive: int,
    max_packet: int,
    purpose: str,
    areas: str | None,
    store_name: str,
    origin: str | None,
    max_messages: int,
    max_wait: float,
    ack_log: Path | None,
    idle_exit: float | None,
    verbose: bool,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Subscribe, batch, run the pipeline, and acknowledge QoS 1 messages once stored.

    Messages are batched (--max-messages, --max-wait), gated, classified and stored with
    their ledger entries; only then are they acknowledged. Redelivered rows (same VIN,
    timestamp and frame type) are stored once. Undecodable messages go to
    HOME/quarantine/ingest-DATASET.jsonl with the reason. On start, batches a killed worker
    left half done are settled against the lake. SIGTERM or Ctrl-C finishes the batch.

    A storage fault (disk full, permission denied, database gone) is logged at once and shown
    by `onshore ingest status`; nothing is acknowledged while it lasts, the batch is retried
    with back-off and ingest resumes by itself when the fault clears. Stopped during a fault,
    the worker exits with status 5 (the broker keeps the messages). A broker that cannot be
    reached is tried again with back-off.

    \b
    Several workers share the load with --group (each its own --client-id, one metadata
    database): a row redelivered to another worker is still stored once.

    \b
    Example:
      onshore ingest mqtt --topic 'vehicles/+/telemetry=json' \\
          --topic 'vehicles/+/gbt32960=gbt32960' --areas sample/areas.geojson --verbose
      onshore ingest mqtt --group ingest --client-id ingest-1 --db postgresql://…/onshore
    """
    from onshore.cli.scan import load_index
    from onshore.ingest import (
        BatchOutcome,
        BatchPolicy,
        Ingestor,
        MqttSettings,
        MqttWorker,
        PipelineOptions,
        Route,
        recover,
        worker_id,
    )
    from onshore.ingest.keys import Heartbeat
    from onshore.ingest.status import status_path
    from onshore.ingest.subscriber import check_group

    routes = [Route.parse(t) for t in (topics or DEFAULT_TOPICS)]
    if group is not None:
        check_group(group)
    if client_id is None:
        client_id = f"onshore-ingest-{group}-{socket.gethostname()}" if group else "onshore-ingest"
    settings = MqttSettings(
        host,
        port,
        client_id,
        int(protocol),
        group=group,
        keepalive=keepalive,
        username=username,
        password=_password(password_file),
        tls=tls,
        cafile=cafile,
        certfile=certfile,
        keyfile=keyfile,
        max_packet=max_packet,
    )
    _log_to_stderr()
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with open_home(home, db, actor) as data_home:
        ingestor = Ingestor(
            data_home,
            worker=worker_id(settings),
            options=PipelineOptions(purpose=purpose, store=store_name, origin=origin),
            areas=load_index(areas, data_home.pack),
        )
        ingestor.index.takeover_after = takeover_after
        ingestor.index.check_alone()  # before the broker hands this session over
        beating = Heartbeat(ingestor.index)  # while connecting (then the use case beats)
        for settled in recover(ingestor.index):
            err_console.print(f"recovered: {json.dumps(settled.to_dict())}", highlight=False)

        def on_batch(outcome: BatchOutcome) -> None:
            if verbose:
                sys.stderr.write(json.dumps(outcome.to_dict()) + "\n")

        worker = MqttWorker(
            ingestor,
            routes,
            settings,
            BatchPolicy(max_messages=max_messages, max_wait=max_wait),
            ack_log=ack_log,
            on_batch=on_batch,
            status=status_path(data_home.path, client_id),
        )
        try:
            connected = worker.connect(stop=stop)
        finally:
            beating.close()
        if not connected:
            worker.close()
            return
        if not as_json:
            shared = f", shared in group {group}" if group else ""
            err_console.print(
                f"subscribed to {', '.join(r.pattern for r in routes)} on {host}:{port} "
                f"(MQTT {protocol}, session {client_id}{shared})",
                highlight=False,
            )
        try:
            worker.run(stop, idle_exit=idle_exit)
        finally:
            fault = worker.stats.fault_since is not None
            waiting = worker.status()["waiting"]
            worker.close()
        if fault:
            raise StorageUnavailable(
                f"stopped during a storage fault, {waiting:,} messages not acknowledged "
                f"(the broker keeps them): {worker.stats.last_error}"
            )
    if as_json:
        print_json(worker.stats.to_dict())
    else:
        totals = worker.stats
        click.echo(
            f"{totals.messages:,} messages, {totals.stored:,} rows stored, "
            f"{totals.duplicates:,} duplicates, {totals.rejected:,} quarantined",
            err=True,
        )


def _password(path: Path | None) -> str | None:
    """The broker password: the first line of ``path``, else ``$ONSHORE_MQTT_PASSWORD``."""
    if path is None:
        return os.environ.get("ONSHORE_MQTT_PASSWORD")
    try:
        return path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the password: {exc}", file=str(path)) from exc


def _log_to_stderr() -> None:
    """Faults and reconnections of the worker, one timestamped line each on stderr."""
    from onshore.logs import install_vin_masking

    install_vin_masking()
    logger = logging.getLogger("onshore.ingest")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


@ingest.command("status")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data home (default: $ONSHORE_HOME or ./onshore-data).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the statuses as JSON.")
def status(home: Path | None, as_json: bool) -> None:
    """Show each MQTT worker of the data home: state, rates, lag, quarantine, last error.

    Reads the status files the workers keep up to date (HOME/ingest/status-CLIENT.json), so
    it works while the data home's disk is full or its database is down. A status not updated
    for 15 s is marked stale (the worker is not running). Exits with status 5 when a running
    worker reports a storage fault.

    \b
    Example:
      onshore ingest status --json
    """
    from rich.markup import escape

    from onshore.ingest.status import read_statuses
    from onshore.keystore import onshore_home

    statuses = read_statuses(home or onshore_home())
    if as_json:
        print_json(statuses)
    elif not statuses:
        click.echo("no MQTT worker has run in this data home", err=True)
    for st in [] if as_json else statuses:
        totals, q = st.get("totals") or {}, st.get("quarantine") or {}
        age = time.time() - float(st.get("updated_at") or 0)
        state = (
            f"{st.get('state')} (stale: no update for {age:.0f} s)"
            if st["stale"]
            else st.get("state")
        )
        out_console.print(
            f"[bold]{escape(str(st.get('client_id')))}[/]"
            + (f" (group {escape(str(st['group']))})" if st.get("group") else "")
            + f" on {escape(str(st.get('broker')))} (pid {st.get('pid')}): {state}, "
            f"{'connected' if st.get('connected') else 'not connected'}, "
            f"{st.get('reconnects', 0)} reconnects",
            highlight=False,
        )
        out_console.print(
            f"  {st.get('messages_per_s', 0)} messages/s; {totals.get('acked', 0):,} acknowledged, "
            f"{totals.get('stored', 0):,} rows stored, {totals.get('duplicates', 0):,} "
            f"duplicates; {st.get('waiting', 0):,} waiting, lag {st.get('lag_s', 0)} s",
            highlight=False,
        )
        out_console.print(
            f"  quarantined {q.get('messages', 0):,} {q.get('by_reason') or ''} "
            f"(rotated files {q.get('rotated_files', 0)}, dropped {q.get('dropped_files', 0)})",
            highlight=False,
            markup=False,
        )
        if st.get("last_error"):
            out_console.print(f"  last error: {st['last_error']}", highlight=False, markup=False)
    faulty = [s for s in statuses if s.get("state") == "storage-fault" and not s["stale"]]
    if faulty:
        raise StorageUnavailable(
            f"{len(faulty)} worker(s) in a storage fault: {faulty[0].get('last_error')}"
        )
