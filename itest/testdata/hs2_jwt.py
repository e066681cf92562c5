"""Runs SELECT current_user() over HiveServer2's HTTP transport with a JWT and prints the
outcome as JSON. impyla: auth_mechanism='JWT' (it sends Authorization: Bearer); pyhive: a
THttpClient with the Authorization header set by hand."""
import json
import sys

which, host, port, token = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
out = {}
try:
    if which == "impyla":
        from impala.dbapi import connect
        conn = connect(host=host, port=port, auth_mechanism="JWT", jwt=token, use_http_transport=True, http_path="cliservice")
    elif which == "pyhive":
        from pyhive import hive
        from thrift.transport import THttpClient
        transport = THttpClient.THttpClient(f"http://{host}:{port}/cliservice")
        transport.setCustomHeaders({"Authorization": "Bearer " + token})
        conn = hive.connect(thrift_transport=transport)
    cur = conn.cursor()
    cur.execute("SELECT current_user() AS u")
    out = {"ok": True, "user": cur.fetchall()[0][0]}
    cur.close()
    conn.close()
except Exception as e:  # the test checks the message
    out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
print(json.dumps(out, default=str))
