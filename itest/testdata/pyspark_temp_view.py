"""Creates a temp view through the bridge and prints the session id, leaving the session open
(no spark.stop()) so that another client can join it."""
import json
import sys

from pyspark.sql import SparkSession

url, view, marker = sys.argv[1], sys.argv[2], sys.argv[3]
spark = SparkSession.builder.remote(url).getOrCreate()
spark.sql(f"SELECT '{marker}' AS v").createOrReplaceTempView(view)
spark.sql("SET spark.sql.shuffle.partitions=7")
print(json.dumps({"session_id": spark.session_id}))
