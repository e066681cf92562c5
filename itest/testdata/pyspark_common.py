"""The Spark Connect surface that PySpark 3.5 to 4.3 have in common, run with whichever
PySpark runs this script; prints every answer as JSON. An answer the client or server cannot
give is recorded as "error: <class>: <first line>", so that a run through the bridge can be
compared, answer by answer, with a run straight against the engine.

Usage: pyspark_common.py SC_URL
"""
import json
import sys

import pyspark
from pyspark.sql import SparkSession, Window, functions as F
from pyspark.sql.types import LongType

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
out = {"client": pyspark.__version__}


def attempt(name, f):
    try:
        out[name] = f()
    except Exception as e:  # the comparison is of outcomes, errors included
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        out[name] = "error: " + type(e).__name__ + ": " + msg[:120]


people = spark.createDataFrame([(1, "ann", "eng", 100), (2, "bo", "eng", 80), (3, "cy", "ops", 90), (4, "di", "ops", None)],
                               ["id", "name", "dept", "salary"])
attempt("engine_version", lambda: spark.version.split(".")[0])
attempt("range_count", lambda: spark.range(1000).count())
attempt("from_lists", lambda: [list(r) for r in people.orderBy("id").collect()])
attempt("from_pandas", lambda: [list(r) for r in spark.createDataFrame(__import__("pandas").DataFrame({"a": [1, 2], "b": ["x", "y"]})).collect()])
attempt("filter_select", lambda: [r["name"] for r in people.where(F.col("salary") > 85).select("name").orderBy("name").collect()])
attempt("group_agg", lambda: [list(r) for r in people.groupBy("dept").agg(F.count("*").alias("n"), F.sum("salary").alias("s")).orderBy("dept").collect()])
attempt("window", lambda: [list(r) for r in people.select("name", F.rank().over(Window.partitionBy("dept").orderBy(F.desc("id"))).alias("r")).orderBy("name").collect()])
attempt("join", lambda: people.alias("a").join(people.alias("b"), "dept").count())
attempt("topandas", lambda: (lambda p: [len(p), int(p["id"].sum())])(spark.range(100000).toPandas()))
attempt("schema", lambda: people.schema.simpleString())
attempt("sql", lambda: [list(r) for r in spark.sql("SELECT id, id * 2 AS d FROM range(3) ORDER BY id").collect()])
attempt("sql_args", lambda: [list(r) for r in spark.sql("SELECT id FROM range(10) WHERE id > :lo ORDER BY id", args={"lo": 7}).collect()])


def temp_view():
    people.createOrReplaceTempView("common_v")
    return spark.sql("SELECT count(*) FROM common_v").collect()[0][0]


attempt("temp_view", temp_view)
attempt("catalog_tables", lambda: sorted(t.name for t in spark.catalog.listTables() if t.name == "common_v"))
attempt("catalog_columns", lambda: [c.name for c in spark.catalog.listColumns("common_v")])
attempt("conf", lambda: (spark.conf.set("spark.sql.shuffle.partitions", "3"), spark.conf.get("spark.sql.shuffle.partitions"))[1])
attempt("udf", lambda: [r[0] for r in people.select(F.udf(lambda s: len(s), LongType())("name")).orderBy("id").collect()])
attempt("error", lambda: spark.sql("SELECT * FROM no_such_table_here").collect())
spark.stop()
print(json.dumps(out, default=str))
