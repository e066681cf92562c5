"""Runs through the bridge with PySpark Connect and prints the results as JSON."""
import json
import sys

from pyspark.sql import SparkSession, functions as F

url = sys.argv[1]
spark = SparkSession.builder.remote(url).getOrCreate()
agg = (
    spark.range(100000)
    .selectExpr("id * 2 AS x")
    .agg(F.sum("x").alias("total"), F.count("x").alias("n"), F.max("x").alias("top"))
    .collect()[0]
)
rows = spark.sql(
    "SELECT id, CAST(id AS STRING) AS s, id % 2 = 0 AS even FROM range(5) WHERE id > 1 ORDER BY id"
).collect()
print(
    json.dumps(
        {
            "count10": spark.range(10).count(),
            "agg": {"total": agg["total"], "n": agg["n"], "top": agg["top"]},
            "sql": [[r["id"], r["s"], r["even"]] for r in rows],
            "version": spark.version,
        }
    )
)
spark.stop()
