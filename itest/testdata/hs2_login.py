"""Opens one HiveServer2 session with a Python client and user and password, runs SELECT 1, and prints
the outcome as JSON: {"ok": true} or {"ok": false, "error": "..."} with the message the client raised."""
import json
import sys

which, host, port, user, password = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
out = {}
try:
    if which == "pyhive":
        from pyhive import hive
        conn = hive.Connection(host=host, port=port, username=user, password=password, auth="CUSTOM")
    elif which == "impyla-http":
        from impala.dbapi import connect
        conn = connect(host=host, port=port, user=user, password=password, auth_mechanism="PLAIN",
                       use_http_transport=True, http_path="cliservice")
    else:
        raise SystemExit("unknown client " + which)
    cur = conn.cursor()
    cur.execute("SELECT 1")
    out["rows"] = [list(r) for r in cur.fetchall()]
    cur.close()
    conn.close()
    out["ok"] = True
except Exception as e:  # the test checks the message
    out["ok"] = False
    out["error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out, default=str))
