"""Runs one slow query through the bridge and prints "submitted" once it is on its way, then
its result, as JSON. Used to send SIGTERM while queries are in flight.

usage: drain_client.py impyla-http HOST PORT USER MILLIS
       drain_client.py pyspark URL MILLIS
"""
import json
import sys
import time

kind = sys.argv[1]
if kind == "impyla-http":
    from impala.dbapi import connect
    host, port, user, millis = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    conn = connect(host=host, port=port, user=user, password="x", auth_mechanism="PLAIN",
                   use_http_transport=True, http_path="cliservice")
    cur = conn.cursor()
    cur.execute_async(f"SELECT reflect('java.lang.Thread', 'sleep', CAST({millis} AS BIGINT)) IS NULL AS slept, 42 AS answer")
    print("submitted", flush=True)
    while cur.is_executing():
        time.sleep(0.05)
    rows = cur.fetchall()
    cur.close()
    conn.close()
else:
    from pyspark.sql import SparkSession
    url, millis = sys.argv[2], int(sys.argv[3])
    spark = SparkSession.builder.remote(url).getOrCreate()
    df = spark.sql(f"SELECT reflect('java.lang.Thread', 'sleep', CAST({millis} AS BIGINT)) IS NULL AS slept, 42 AS answer")
    print("submitted", flush=True)
    rows = [list(r) for r in df.collect()]
    spark.stop()
print(json.dumps([list(r) for r in rows]), flush=True)
