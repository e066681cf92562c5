"""Connects to Spark Connect once per token (sc://...;token=<jwt>), runs SELECT current_user()
and prints each outcome as JSON: {"name": {"ok": true, "user": ..., "value": 42}} or
{"name": {"ok": false, "error": ...}}."""
import json
import sys

from pyspark.sql import SparkSession

base, cases = sys.argv[1], json.loads(sys.argv[2])
out = {}
for name, token in cases:
    try:
        spark = SparkSession.builder.remote(base + ";token=" + token).create()
        row = spark.sql("SELECT current_user() AS u, 40 + 2 AS v").collect()[0]
        out[name] = {"ok": True, "user": row["u"], "value": row["v"]}
        spark.stop()
    except Exception as e:  # the test checks the message
        out[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
print(json.dumps(out, default=str))
