"""Starts a query that runs for minutes and prints the error it ends with, then the error of
the next call in the same session and how long that call took, as JSON."""
import json
import sys
import time

from pyspark.sql import SparkSession

url = sys.argv[1]
spark = SparkSession.builder.remote(url).getOrCreate()
out = {"error": None, "next_error": None, "next_seconds": None}
try:
    spark.sql("SELECT sum(id % 7) FROM range(0, 1000000000000)").collect()
except Exception as e:  # the test checks the message
    out["error"] = f"{type(e).__name__}: {e}"
start = time.monotonic()
try:
    spark.sql("SELECT 1").collect()
except Exception as e:
    out["next_error"] = f"{type(e).__name__}: {e}"
out["next_seconds"] = time.monotonic() - start
print(json.dumps(out))
