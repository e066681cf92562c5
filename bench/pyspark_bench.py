"""Times PySpark toPandas() and collect() of one parquet dataset over Spark Connect, on two
endpoints in alternation (each round reversing the order) so that both see the same
machine state.

usage: pyspark_bench.py PATH WARMUP REPS NAME=URL...; prints one JSON object:
{"NAME.toPandas": {"warmup": [...], "runs": [...]}, ...} with seconds per run.
"""
import json
import sys
import time

from pyspark.sql import SparkSession

path, warmup, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
targets = [arg.split("=", 1) for arg in sys.argv[4:]]

sessions = {}
for name, url in targets:
    # One session per endpoint; getOrCreate would hand back the first one.
    sessions[name] = SparkSession.builder.remote(url).create()
expected = None
out = {}
for action in ("toPandas", "collect"):
    for i in range(warmup + reps):
        # Alternate who goes first, so that neither side always follows the other.
        order = list(sessions.items())
        if i % 2:
            order.reverse()
        for name, spark in order:
            df = spark.read.parquet(path)
            if expected is None:
                expected = spark.sql(f"SELECT count(*) AS n, sum(b1) AS s FROM parquet.`{path}`").collect()[0]
            start = time.perf_counter()
            result = df.toPandas() if action == "toPandas" else df.collect()
            elapsed = time.perf_counter() - start
            if len(result) != expected["n"]:
                sys.exit(f"{name} {action}: {len(result)} rows, want {expected['n']}")
            if i == 0:
                total = int(result["b1"].sum()) if action == "toPandas" else sum(r["b1"] for r in result)
                if total != expected["s"]:
                    sys.exit(f"{name} {action}: sum(b1) {total}, want {expected['s']}")
            del result
            s = out.setdefault(f"{name}.{action}", {"warmup": [], "runs": [], "rows": expected["n"]})
            (s["warmup"] if i < warmup else s["runs"]).append(elapsed)
for spark in sessions.values():
    spark.stop()
print(json.dumps(out))
