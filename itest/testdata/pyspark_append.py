"""Appends rows to a table with the DataFrame writer through the bridge, then prints
current_user(), the table's row count and the owner the catalog recorded, as JSON."""
import json
import sys

from pyspark.sql import SparkSession

url, table = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.remote(url).getOrCreate()
rows = [(int(i), f"py-{i}") for i in sys.argv[3].split(",")]
spark.createDataFrame(rows, "id int, name string").write.mode("append").saveAsTable(table)
spark.createDataFrame(rows, "id int, name string").write.mode("overwrite").saveAsTable(table + "_py")
owner = [r.data_type for r in spark.sql(f"DESCRIBE TABLE EXTENDED {table}_py").collect() if r.col_name == "Owner"]
print(json.dumps({
    "user": spark.sql("SELECT current_user()").first()[0],
    "count": spark.table(table).count(),
    "owner": owner[0] if owner else None,
}))
spark.stop()
