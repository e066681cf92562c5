"""Superset's use of PyHive's SQLAlchemy dialect (hive://), against a HiveServer2 server:
prints as JSON the inspector's answers for a database the caller made, the raw rows of the
statements the dialect reads (SHOW SCHEMAS, SHOW TABLES, SHOW VIEWS, DESCRIBE), and a
Superset-style query with a LIMIT, with its cursor description.

Usage: sqlalchemy_hive.py HOST PORT DATABASE
"""
import json
import sys

from sqlalchemy import create_engine, inspect, text

host, port, db = sys.argv[1], sys.argv[2], sys.argv[3]
engine = create_engine(f"hive://alice:x@{host}:{port}/{db}", connect_args={"auth": "CUSTOM"})
out = {}
insp = inspect(engine)
out["schema_names"] = [s for s in insp.get_schema_names() if s in (db, "default")]
out["table_names"] = insp.get_table_names(schema=db)
out["view_names"] = insp.get_view_names(schema=db)
for table in ("t", "parted", "v"):
    out["columns " + table] = [{"name": c["name"], "type": str(c["type"]), "nullable": c["nullable"]} for c in insp.get_columns(table, schema=db)]
    out["indexes " + table] = insp.get_indexes(table, schema=db)
    out["pk " + table] = insp.get_pk_constraint(table, schema=db)
    out["fks " + table] = insp.get_foreign_keys(table, schema=db)


def attempt(f):
    """f's answer, or the class of the error it raised (PyHive's has_table raises on Spark)."""
    try:
        return f()
    except Exception as e:
        return "error: " + type(e).__name__


out["has_table"] = [attempt(lambda: insp.has_table("t", schema=db)), attempt(lambda: insp.has_table("no_such_table", schema=db))]
with engine.connect() as conn:
    for stmt in ["SHOW SCHEMAS LIKE '" + db + "'", "SHOW TABLES IN " + db, "SHOW VIEWS IN " + db,
                 "DESCRIBE " + db + ".t", "DESCRIBE " + db + ".parted", "DESCRIBE EXTENDED " + db + ".t id"]:
        out[stmt.replace(db, "DB")] = [list(r) for r in conn.execute(text(stmt)).fetchall()]
    res = conn.execute(text("SELECT id, name, price, tags FROM " + db + ".t ORDER BY id LIMIT 2"))
    out["query description"] = [list(d) for d in res.cursor.description]
    out["query rows"] = [list(r) for r in res.fetchall()]
print(json.dumps(out, indent=1, sort_keys=True, default=str))
