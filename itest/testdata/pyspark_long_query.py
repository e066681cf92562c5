"""Starts a query that runs for minutes and prints the error it ends with, as JSON."""
import json
import sys

from pyspark.sql import SparkSession

url = sys.argv[1]
spark = SparkSession.builder.remote(url).getOrCreate()
try:
    spark.sql("SELECT sum(id % 7) FROM range(0, 1000000000000)").collect()
    print(json.dumps({"error": None}))
except Exception as e:  # the test checks the message
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
