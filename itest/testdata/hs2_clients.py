"""Runs one query through the bridge with a Python HiveServer2 client and prints the rows as JSON."""
import json
import sys

which, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
q = "SELECT id, CAST(id AS STRING) AS s, id % 2 = 0 AS even, CAST(NULL AS INT) AS n FROM range(3)"
if which == "pyhive":
    from pyhive import hive
    conn = hive.Connection(host=host, port=port, username="alice", password="x", auth="CUSTOM")
elif which == "impyla":
    from impala.dbapi import connect
    conn = connect(host=host, port=port, user="alice", password="x", auth_mechanism="PLAIN")
elif which == "impyla-http":
    from impala.dbapi import connect
    conn = connect(host=host, port=port, user="alice", password="x", auth_mechanism="PLAIN", use_http_transport=True, http_path="cliservice")
cur = conn.cursor()
cur.execute(q)
print(json.dumps([list(r) for r in cur.fetchall()]))
cur.close()
conn.close()
