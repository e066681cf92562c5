"""Runs one security probe through the bridge and prints its outcome as JSON."""
import json
import sys

from pyspark.sql import SparkSession

url, probe = sys.argv[1], sys.argv[2]
out = {}
try:
    builder = SparkSession.builder.remote(url)
    if probe == "builder-options":
        # PySpark sends builder options as one silent Set; a protected key among them (as in
        # PySpark's own ReusedConnectTestCase) must not keep the session from opening.
        builder = builder.config("spark.myapp.secret.key", "s3cr3t").config("spark.sql.shuffle.partitions", "3")
    spark = builder.getOrCreate()
    if probe == "builder-options":
        out["partitions"] = spark.conf.get("spark.sql.shuffle.partitions")
        # Values of secret-looking keys are redacted on the way out; whether the key is set is not.
        out["secret"] = "set" if spark.sql("SET").where("key = 'spark.myapp.secret.key'").count() else "unset"
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
