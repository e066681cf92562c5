"""Asks a HiveServer2 server impyla's metadata questions and prints every answer as JSON.

Usage: impyla_meta.py HOST PORT binary|http DATABASE

DATABASE must hold a table `t` (the caller creates it). The script adds a local and a global
temporary view of its own, then records: impyla's cursor calls (get_databases, get_tables,
get_table_schema, get_functions, database_exists, table_exists), GetSchemas, GetTables and
GetColumns for a matrix of patterns, the result-set description of a query with nested types,
and GetInfo for every info type. It is run against Spark Thrift Server and the bridge, and the
caller compares the two outputs value by value.
"""
import json
import sys

from impala.dbapi import connect
from impala._thrift_gen.TCLIService.ttypes import (TGetColumnsReq, TGetInfoReq, TGetInfoType,
                                                   TGetSchemasReq, TGetTablesReq)

host, port, transport, db = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
kw = dict(host=host, port=port, user="alice", password="x", auth_mechanism="PLAIN")
if transport == "http":
    kw.update(use_http_transport=True, http_path="cliservice")
conn = connect(**kw)
cur = conn.cursor()
session = cur.session
out = {}


def rows(op):
    """All rows of a metadata operation, as lists."""
    cur._last_operation = op
    cur._last_operation_finished = False
    cur._wait_to_finish()
    return [list(r) for r in cur.fetchall()]


def attempt(f):
    """f's answer, or "error" when the server refuses the call (both must refuse the same calls)."""
    try:
        return f()
    except Exception:
        return "error"


def only_db(rs, col=1):
    """Rows of the caller's database and of this script's temporary views: other tests' tables
    come and go, and global temporary views belong to one Spark application (the bridge's
    engine holds other tests' views, Spark Thrift Server does not)."""
    return [r for r in rs if r[col] in (db, None) or (r[col] == "global_temp" and str(r[col + 1]).startswith("imp_"))]


cur.execute("CREATE OR REPLACE TEMPORARY VIEW imp_local AS SELECT 1 AS One, 'x' AS two")
cur.execute("CREATE OR REPLACE GLOBAL TEMPORARY VIEW imp_global AS SELECT named_struct('City', 'x', 'zip', 1) AS addr")

cur.get_databases()
out["get_databases"] = [r for r in (list(x) for x in cur.fetchall()) if r[0] in (db, "default", "global_temp")]
cur.get_tables(db)
out["get_tables(db)"] = [list(r) for r in cur.fetchall()]
cur.get_tables()
out["get_tables()"] = only_db([list(r) for r in cur.fetchall()])
out["get_table_schema"] = [list(r) for r in cur.get_table_schema("t", db)]
out["get_table_schema(temp)"] = [list(r) for r in cur.get_table_schema("imp_local")]
cur.get_functions(db)
fns = [list(r) for r in cur.fetchall()]
# REMARKS (index 3) is Spark's usage text; Spark Connect's catalog does not carry the extended
# usage Spark Thrift Server appends, so it is compared apart (see the Go test).
out["get_functions(db)"] = sorted([r[:3] + r[4:] for r in fns])
out["get_functions(db) remarks"] = sorted([[r[2], (r[3] or "").split("\nExtended Usage:")[0]] for r in fns])
out["database_exists"] = [cur.database_exists(db), cur.database_exists("no_such_db")]
out["table_exists"] = [cur.table_exists("t", db), cur.table_exists("nope", db)]

patterns = [None, "", "%", "*", ".*", db, db.upper(), db[:-2] + "%", db[:-1] + "_", db + "|default",
            "default|", "(", "global%", "GLOBAL_TEMP"]
out["GetSchemas"] = {repr(p): attempt(lambda: [r for r in rows(session._operation("GetSchemas", TGetSchemasReq(sessionHandle=session.handle, schemaName=p), True)) if r[0] in (db, "default", "global_temp")]) for p in patterns}
out["GetTables(schema)"] = {repr(p): attempt(lambda: only_db(rows(session._operation("GetTables", TGetTablesReq(sessionHandle=session.handle, schemaName=p, tableName="%"), True)))) for p in patterns}
out["GetColumns(schema)"] = {repr(p): attempt(lambda: only_db(rows(session._operation("GetColumns", TGetColumnsReq(sessionHandle=session.handle, schemaName=p, tableName="t", columnName="id"), True)))) for p in patterns}
tpatterns = [None, "", "%", "*", ".*", "t", "T", "t|imp_%", "imp_l_cal", "imp\\_local", "imp*", "(", "x"]
out["GetTables(table)"] = {repr(p): attempt(lambda: only_db(rows(session._operation("GetTables", TGetTablesReq(sessionHandle=session.handle, schemaName=db, tableName=p), True)))) for p in tpatterns}
out["GetTables(types)"] = {repr(ts): attempt(lambda: only_db(rows(session._operation("GetTables", TGetTablesReq(sessionHandle=session.handle, schemaName=db, tableName="%", tableTypes=ts), True)))) for ts in [None, [], ["TABLE"], ["VIEW"], ["TABLE", "VIEW"], ["table"]]}
cpatterns = [None, "", "%", ".*", "id", "ID", "i%", "i_", "id|name", "n.me", "(x"]
out["GetColumns"] = {repr(p): attempt(lambda: only_db(rows(session._operation("GetColumns", TGetColumnsReq(sessionHandle=session.handle, schemaName=db, tableName="t", columnName=p), True)))) for p in cpatterns}
out["GetColumns(temp)"] = only_db(rows(session._operation("GetColumns", TGetColumnsReq(sessionHandle=session.handle, schemaName=None, tableName="imp_%", columnName=None), True)))

cur.execute("SELECT named_struct('City', 'x', 'zip', 1) AS addr, map('k', 1) AS m, array(1.5BD) AS a, 1 AS i")
out["description"] = [list(d) for d in cur.description]
out["query rows"] = [list(r) for r in cur.fetchall()]

info = {}
# CLI_ODBC_KEYWORDS (10006) is newer than impyla's generated enum.
for name, code in [("CLI_ODBC_KEYWORDS", 10006)]:
    try:
        resp = session._rpc("GetInfo", TGetInfoReq(sessionHandle=session.handle, infoType=code), True)
        info[name] = resp.infoValue.stringValue
    except Exception as e:
        info[name] = "error"
        print(name, e, file=sys.stderr)
for name, code in sorted(TGetInfoType._NAMES_TO_VALUES.items()):
    try:
        resp = session._rpc("GetInfo", TGetInfoReq(sessionHandle=session.handle, infoType=code), True)
        v = resp.infoValue
        info[name] = [v.stringValue, v.smallIntValue, v.integerBitmask, v.integerFlag, v.lenValue]
    except Exception as e:
        info[name] = "error"
        print(name, e, file=sys.stderr)
out["GetInfo"] = info
# Spark Thrift Server loses the session after some GetInfo refusals; closing is not compared.
attempt(cur.close)
attempt(conn.close)
print(json.dumps(out, indent=1, sort_keys=True, default=str))
