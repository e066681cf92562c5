"""Exercises the Spark Connect surface PySpark users rely on and prints every result as JSON,
so that a run through the bridge can be compared with a run straight against the engine."""
import json
import os
import sys
import threading
import time

import pandas as pd
from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession, Window, functions as F
from pyspark.sql.types import LongType, StringType

url = sys.argv[1]
spark = SparkSession.builder.remote(url).getOrCreate()
out = {}

people = spark.createDataFrame([(1, "ann", "eng", 100), (2, "bo", "eng", 80), (3, "cy", "ops", 90), (4, "di", "ops", None)],
                               ["id", "name", "dept", "salary"])
depts = spark.createDataFrame(pd.DataFrame({"dept": ["eng", "ops", "hr"], "floor": [3, 1, 2]}))
out["from_lists"] = [list(r) for r in people.orderBy("id").collect()]
out["from_pandas"] = [list(r) for r in depts.orderBy("dept").collect()]
out["join"] = [list(r) for r in people.join(depts, "dept").select("name", "floor").orderBy("name").collect()]
out["left_join_count"] = depts.join(people, "dept", "left").count()
out["group_agg"] = [list(r) for r in people.groupBy("dept").agg(F.count("*").alias("n"), F.sum("salary").alias("total"),
                                                                  F.avg("salary").alias("avg")).orderBy("dept").collect()]
w = Window.partitionBy("dept").orderBy(F.desc_nulls_last("salary"))
out["window"] = [list(r) for r in people.select("name", F.rank().over(w).alias("rank"),
                                                F.sum("salary").over(Window.partitionBy("dept")).alias("dept_total")).orderBy("name").collect()]
out["sort_limit"] = [r["name"] for r in people.orderBy(F.desc("id")).limit(2).collect()]

big = spark.range(1000000).selectExpr("id", "id % 7 AS m", "CAST(id AS STRING) AS s").toPandas()
out["topandas"] = {"rows": len(big), "sum_id": int(big["id"].sum()), "sum_m": int(big["m"].sum()),
                   "last_s": big["s"].iloc[-1], "dtypes": [str(t) for t in big.dtypes]}

out["sql_params"] = [list(r) for r in spark.sql("SELECT id, id * :k AS scaled FROM range(5) WHERE id >= :lo ORDER BY id",
                                                args={"k": 10, "lo": 2}).collect()]
out["sql_pos_params"] = spark.sql("SELECT ? + ? AS s", args=[40, 2]).collect()[0]["s"]

people.createOrReplaceTempView("people_v")
out["temp_view"] = spark.sql("SELECT count(*) AS n FROM people_v WHERE dept = 'eng'").collect()[0]["n"]
spark.sql("CREATE OR REPLACE TEMP VIEW second_v AS SELECT 1 AS a, 'x' AS b")
out["list_tables"] = sorted(t.name for t in spark.catalog.listTables() if t.name in ("people_v", "second_v"))
out["list_columns"] = [(c.name, c.dataType) for c in spark.catalog.listColumns("people_v")]

to_len = F.udf(lambda s: len(s) * 10, LongType())
out["udf"] = [r["l"] for r in people.select(to_len("name").alias("l")).orderBy("l").collect()]

spark.addArtifacts(os.path.join(os.path.dirname(os.path.abspath(__file__)), "udf_helpers.py"), pyfile=True)


def use_helper(s):
    import udf_helpers
    return udf_helpers.shout(s)


shout = F.udf(use_helper, StringType())
out["artifact_udf"] = [r["s"] for r in people.select(shout("name").alias("s")).orderBy("s").collect()]

try:
    spark.sql("SELECT no_such_column FROM people_v").collect()
    out["analysis_error"] = None
except AnalysisException as e:
    out["analysis_error"] = {"class": e.getCondition(), "sqlstate": e.getSqlState()}

result = {}


def long_query():
    try:
        spark.sql("SELECT sum(id % 7) FROM range(0, 1000000000000)").collect()
        result["outcome"] = "finished"
    except Exception as e:  # the interrupt surfaces as an exception
        result["outcome"] = type(e).__name__
        result["message"] = str(e)


t = threading.Thread(target=long_query)
t.start()
time.sleep(3)
interrupted = spark.interruptAll()
t.join(120)
out["interrupt"] = {"ids": len(interrupted), "outcome": result.get("outcome"),
                    "cancelled": "OPERATION_CANCELED" in result.get("message", "") or "cancel" in result.get("message", "").lower()}

print(json.dumps(out, default=str, sort_keys=True))
spark.stop()
