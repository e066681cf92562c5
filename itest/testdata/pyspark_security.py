"""Runs one security probe through the bridge and prints its outcome as JSON."""
import json
import sys

from pyspark.sql import SparkSession

url, probe = sys.argv[1], sys.argv[2]
out = {}
try:
    spark = SparkSession.builder.remote(url).getOrCreate()
    if probe == "query":
        out["value"] = spark.sql("SELECT 40 + 2 AS v").collect()[0]["v"]
    elif probe == "read-secret":
        out["value"] = spark.conf.get("spark.app.name")
        out["all"] = spark.conf.getAll.get("spark.app.name")
        try:
            out["token"] = spark.conf.get("spark.connect.authenticate.token")
        except Exception as e:  # not a conf on engines that take the token from the environment
            out["token"] = type(e).__name__
    elif probe == "set-secret":
        spark.conf.set("spark.connect.authenticate.token", "stolen")
        out["value"] = "set"
    out["ok"] = True
    spark.stop()
except Exception as e:  # the test checks the message
    out["ok"] = False
    out["error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out, default=str))
