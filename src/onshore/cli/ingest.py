"""``onshore ingest mqtt``: the MQTT worker."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from onshore.cli._common import err_console, print_json
from onshore.cli.store import home_options, open_home
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
@click.option("--client-id", default="onshore-ingest", show_default=True, help="Session id.")
@click.option("--protocol", type=click.Choice(["5", "311"]), default="5", show_default=True)
@click.option("--username", envvar="ONSHORE_MQTT_USERNAME")
@click.option("--password", envvar="ONSHORE_MQTT_PASSWORD")
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
    client_id: str,
    protocol: str,
    username: str | None,
    password: str | None,
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

    \b
    Example:
      onshore ingest mqtt --topic 'vehicles/+/telemetry=json' \\
          --topic 'vehicles/+/gbt32960=gbt32960' --areas sample/areas.geojson --verbose
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

    routes = [Route.parse(t) for t in (topics or DEFAULT_TOPICS)]
    settings = MqttSettings(
        host, port, client_id, int(protocol), username=username, password=password
    )
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
        )
        worker.connect()
        if not as_json:
            err_console.print(
                f"subscribed to {', '.join(r.pattern for r in routes)} on {host}:{port} "
                f"(MQTT {protocol}, session {client_id})",
                highlight=False,
            )
        try:
            worker.run(stop, idle_exit=idle_exit)
        finally:
            worker.close()
    if as_json:
        print_json(worker.stats.to_dict())
    else:
        totals = worker.stats
        click.echo(
            f"{totals.messages:,} messages, {totals.stored:,} rows stored, "
            f"{totals.duplicates:,} duplicates, {totals.rejected:,} quarantined",
            err=True,
        )
