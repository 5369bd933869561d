#!/usr/bin/env python3
"""Fleet-wide tables from many ntop-rs sensors' ECS NDJSON (`ntop-rs --ecs FILE`).

    spark-submit contrib/spark/fleet.py IN_DIR OUT_DIR      # or: python3 fleet.py IN OUT

IN_DIR holds one directory per sensor (its name is the sensor's), each with any number
of ECS files (*.ndjson, *.json, gzipped or not). OUT_DIR gets one directory of JSON
lines per table:

- top_talkers: hosts by bytes sent and received in flow records, fleet-wide (top 100);
- protocol_hours: packets and bytes per sensor, hour and protocol class (from the
  per-minute metric events);
- alert_kinds: incidents (new reports) per sensor and kind;
- cross_sensor_scanners: sources of port scans and host sweeps seen by two or more
  sensors, with the sensors and targets.

It prints one JSON line of totals (packets and bytes per sensor, incidents) for
scripts and tests. Runs with pyspark in local mode, or on a cluster.
"""
import json
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

PROTOCOLS = ["tcp", "udp", "icmp", "icmpv6", "arp", "other"]


def has(df, path):
    """Whether the dotted field `path` exists in df's schema."""
    fields = df.schema
    for part in path.split("."):
        names = {f.name: f for f in fields.fields} if hasattr(fields, "fields") else {}
        if part not in names:
            return False
        fields = names[part].dataType
    return True


def main(inp, out):
    spark = (SparkSession.builder.appName("ntop-rs fleet")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    events = (spark.read.option("recursiveFileLookup", "true").json(inp)
              .withColumn("sensor", F.element_at(F.split(F.input_file_name(), "/"), -2)))
    events.cache()
    kind = F.col("event.kind")

    flows = events.where(kind == "event")
    talkers = (flows.select(F.col("source.ip").alias("host"), F.col("source.bytes").alias("sent"),
                            F.col("destination.bytes").alias("received"))
               .unionByName(flows.select(F.col("destination.ip").alias("host"),
                                         F.col("destination.bytes").alias("sent"),
                                         F.col("source.bytes").alias("received")))
               .groupBy("host").agg(F.sum("sent").alias("bytes_sent"), F.sum("received").alias("bytes_received"))
               .withColumn("bytes", F.col("bytes_sent") + F.col("bytes_received"))
               .orderBy(F.desc("bytes"), "host").limit(100))

    metrics = events.where(kind == "metric")
    per_proto = [
        F.struct(F.lit(p).alias("proto"),
                 F.col(f"ntop_rs.protocols.{p}.packets").alias("packets"),
                 F.col(f"ntop_rs.protocols.{p}.bytes").alias("bytes"))
        for p in PROTOCOLS if has(metrics, f"ntop_rs.protocols.{p}")
    ]
    hours = (metrics.select("sensor", F.date_trunc("hour", F.to_timestamp(F.col("`@timestamp`"))).alias("hour"),
                            F.explode(F.array(*per_proto)).alias("p"))
             .where(F.col("p.packets").isNotNull())
             .groupBy("sensor", "hour", F.col("p.proto").alias("proto"))
             .agg(F.sum("p.packets").alias("packets"), F.sum("p.bytes").alias("bytes"))
             .orderBy("sensor", "hour", "proto"))

    alerts = events.where((kind == "alert") & (F.col("ntop_rs.state") == "new"))
    kinds = alerts.groupBy("sensor", F.col("rule.name").alias("kind")).count().orderBy("sensor", "kind")
    if has(alerts, "source.ip"):
        scans = alerts.where(F.col("rule.name").isin("port_scan", "host_sweep") & F.col("source.ip").isNotNull())
        target = F.col("destination.ip") if has(alerts, "destination.ip") else F.lit(None).cast("string")
        scanners = (scans.groupBy(F.col("source.ip").alias("source"))
                    .agg(F.array_sort(F.collect_set("sensor")).alias("sensors"),
                         F.array_sort(F.collect_set(target)).alias("targets"),
                         F.count("*").alias("incidents"))
                    .where(F.size("sensors") >= 2).orderBy("source"))
    else:
        scanners = spark.createDataFrame([], "source string, sensors array<string>, targets array<string>, incidents long")

    for name, df in [("top_talkers", talkers), ("protocol_hours", hours), ("alert_kinds", kinds),
                     ("cross_sensor_scanners", scanners)]:
        df.coalesce(1).write.mode("overwrite").json(f"{out}/{name}")

    totals = {
        "sensors": {r["sensor"]: {"packets": r["packets"], "bytes": r["bytes"]}
                    for r in metrics.groupBy("sensor").agg(F.sum("network.packets").alias("packets"),
                                                           F.sum("network.bytes").alias("bytes")).collect()},
        "incidents": alerts.count(),
        "flows": flows.count(),
        "cross_sensor_scanners": [r["source"] for r in scanners.collect()],
    }
    print(json.dumps(totals))
    spark.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
