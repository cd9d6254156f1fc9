"""Getting a SparkSession: local mode by default, a cluster with ``master``.

Every session keeps the input's types on output: timestamps are written to Parquet as
``TIMESTAMP_MICROS`` adjusted to UTC (read back as ``timestamp[us, tz=UTC]``), never Spark's
legacy naive ``INT96``, and the session time zone is UTC so no local clock leaks into the data.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

from onshore.errors import BadInput

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Settings that keep the input's types on output (see the module doc). A session Onshore
#: did not start (``spark-submit``) gets them too, unless its launcher set them explicitly.
TYPE_PARITY: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}

#: Settings every Onshore session gets unless the caller overrides them.
DEFAULTS: dict[str, str] = {
    **TYPE_PARITY,
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def java_available() -> bool:
    """True when a Java runtime is reachable (``JAVA_HOME`` or ``java`` on ``PATH``)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


def require_pyspark() -> None:
    """Raise :class:`BadInput` with an install hint when PySpark is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise BadInput("the Spark engine needs PySpark: pip install 'onshore[spark]'") from exc


def spark_session(
    master: str | None = None,
    *,
    app_name: str = "onshore",
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """The active SparkSession, or a new one on ``master`` (default ``local[*]``).

    In local mode the Python workers run this interpreter, so they see the same installed
    Onshore; on a cluster the workers use the cluster's Python (ship Onshore to it, see README).
    Inside ``spark-submit`` (a session already configured) ``master=None`` keeps its master.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        _keep_types(active)
        return active
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # launched by spark-submit
    chosen = master or (None if submitted else "local[*]")
    builder = SparkSession.builder.appName(app_name)
    if chosen is not None:
        builder = builder.master(chosen)
    settings = dict(DEFAULTS)
    if chosen is not None and chosen.startswith("local"):
        # PySpark reads the workers' interpreter from the environment, not from the conf
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        settings["spark.ui.enabled"] = "false"
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: no Java, bad master URL …
        raise BadInput(f"cannot start Spark on {chosen or 'the submitted master'}: {exc}") from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def _keep_types(session: SparkSession) -> None:
    """Apply :data:`TYPE_PARITY` to a running session, except what its launcher set."""
    launched = session.sparkContext.getConf()
    for key, value in TYPE_PARITY.items():
        if not launched.contains(key):
            session.conf.set(key, value)
