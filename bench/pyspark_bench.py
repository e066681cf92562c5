"""Times PySpark toPandas() and collect() of one parquet dataset over Spark Connect.

usage: pyspark_bench.py URL PATH WARMUP REPS; prints one JSON object of seconds per run.
"""
import json
import sys
import time

from pyspark.sql import SparkSession

url, path, warmup, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
spark = SparkSession.builder.remote(url).getOrCreate()
df = spark.read.parquet(path)
expected = spark.sql(f"SELECT count(*) AS n, sum(b1) AS s FROM parquet.`{path}`").collect()[0]

out = {}
for name, action in (("toPandas", lambda: df.toPandas()), ("collect", lambda: df.collect())):
    times = []
    for i in range(warmup + reps):
        start = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - start
        rows = len(result)
        if rows != expected["n"]:
            sys.exit(f"{name}: {rows} rows, want {expected['n']}")
        if i == 0:
            total = int(result["b1"].sum()) if name == "toPandas" else sum(r["b1"] for r in result)
            if total != expected["s"]:
                sys.exit(f"{name}: sum(b1) {total}, want {expected['s']}")
        del result
        times.append(elapsed)
    out[name] = {"warmup": times[:warmup], "runs": times[warmup:], "rows": expected["n"]}
spark.stop()
print(json.dumps(out))
