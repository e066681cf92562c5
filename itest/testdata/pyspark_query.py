"""Runs one SQL statement through the bridge with PySpark Connect and prints its rows as JSON."""
import json
import sys

from pyspark.sql import SparkSession

url, query = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.remote(url).getOrCreate()
print(json.dumps([list(r) for r in spark.sql(query).collect()]))
spark.stop()
