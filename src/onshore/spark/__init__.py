"""Onshore on Apache Spark: the same pack, the same core classifier and the same desensitization
over a data lake.

An adapter: the core never imports it, and it needs the ``spark`` extra
(``pip install 'onshore[spark]'``). The pack and the sensitive-area index are broadcast once;
each partition runs the core's Arrow functions inside ``mapInArrow``; the driver combines the
partitions' figures and counts distinct subjects exactly, then lets the core evaluate the
dataset rules.

    from onshore.spark import classify_dataframe, read_parquet, spark_session
    spark = spark_session("local[2]")
    result = classify_dataframe(read_parquet("lake/telemetry/"), pack, areas).persist()
    result.labelled.write.parquet("labelled/")
    assessment = result.assessment()

    safe = desensitize_dataframe(read_parquet("lake/telemetry/"), pack.profile("export-default"),
                                 pack, key=key, areas=areas).persist()
    report = safe.report()            # the embedded runner's risk report and promise check
    if report.promise.kept:
        safe.rows.write.parquet("export/telemetry/")
"""

from onshore.spark.classify import SparkClassification, classify_dataframe, read_parquet
from onshore.spark.desensitize import SparkDesensitization, desensitize_dataframe
from onshore.spark.session import java_available, spark_session

__all__ = [
    "SparkClassification",
    "SparkDesensitization",
    "classify_dataframe",
    "desensitize_dataframe",
    "java_available",
    "read_parquet",
    "spark_session",
]
