"""Logs in to the bridge with PyHive (SASL PLAIN, auth='LDAP') as a user with a password,
runs one query and prints the outcome as JSON."""
import json
import sys

from pyhive import hive

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
out = {}
try:
    conn = hive.Connection(host=host, port=port, username=user, password=password, auth="LDAP")
    cur = conn.cursor()
    cur.execute("SELECT 'ldap' AS v, 40 + 2 AS n")
    out["rows"] = [list(r) for r in cur.fetchall()]
    cur.close()
    conn.close()
    out["ok"] = True
except Exception as e:  # the test checks the message
    out["ok"] = False
    out["error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out, default=str))
