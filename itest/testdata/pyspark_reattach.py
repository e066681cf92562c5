"""Collects a large result whose stream the test cuts once mid-way; prints what arrived."""
import json
import sys

from pyspark.sql import SparkSession

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
pdf = spark.range(3000000).selectExpr("id", "CAST(id AS STRING) AS s").toPandas()
print(json.dumps({"rows": len(pdf), "sum": int(pdf["id"].sum()), "distinct": int(pdf["id"].nunique()),
                  "s_len": int(pdf["s"].str.len().sum())}))
spark.stop()
