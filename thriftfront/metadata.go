package thriftfront

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/translate"
)

// The metadata calls ask the session's engine through the Spark Connect catalog API (so
// DSv2 catalogs are covered, not only the session catalog), filter with the JDBC patterns
// in the bridge, and answer with a finished operation holding the result in JDBC's schema.

// collect runs plan on the session's engine and returns every row. Only for catalog
// listings, which are small.
func (h *Handler) collect(ctx context.Context, s *session, plan *connect.Plan) ([]string, [][]any, error) {
	c, err := s.es.Client(ctx)
	if err != nil {
		return nil, nil, err
	}
	stream, err := c.ExecutePlan(ctx, &connect.ExecutePlanRequest{SessionId: s.es.ID, UserContext: s.es.UserContext(),
		ClientType: strPtr("sparkbridge/thrift"), Plan: plan})
	if err != nil {
		return nil, nil, s.es.Explain(err)
	}
	var names []string
	var rows [][]any
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return names, rows, nil
		}
		if err != nil {
			return nil, nil, s.es.Explain(err)
		}
		batch := resp.GetArrowBatch()
		if batch == nil {
			continue
		}
		schema, recs, err := translate.DecodeArrowBatch(batch.GetData(), h.mem)
		if err != nil {
			return nil, nil, err
		}
		if names == nil && schema != nil {
			for _, f := range schema.Fields() {
				names = append(names, f.Name)
			}
		}
		for _, rec := range recs {
			vals, err := translate.RecordValues(rec)
			rec.Release()
			if err != nil {
				return nil, nil, err
			}
			rows = append(rows, vals...)
		}
	}
}

func column(names []string, want string) int {
	for i, n := range names {
		if strings.EqualFold(n, want) {
			return i
		}
	}
	return -1
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// catalogs lists the catalogs whose name is catalog (any, when empty): those the session
// has loaded and those the engine has configured (spark.sql.catalog.NAME), which Spark
// loads only on first use and so would not list yet.
func (h *Handler) catalogs(ctx context.Context, s *session, catalog string) ([]string, error) {
	names, rows, err := h.collect(ctx, s, translate.ListCatalogsPlan())
	if err != nil {
		return nil, err
	}
	i := column(names, "name")
	found := make([]string, 0, len(rows))
	for _, r := range rows {
		found = append(found, str(r[i]))
	}
	names, rows, err = h.collect(ctx, s, translate.StatementPlan("SET"))
	if err != nil {
		return nil, err
	}
	if k := column(names, "key"); k >= 0 {
		for _, r := range rows {
			found = append(found, translate.ConfiguredCatalog(str(r[k])))
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range found {
		if n == "" || seen[strings.ToLower(n)] {
			continue
		}
		seen[strings.ToLower(n)] = true
		if catalog == "" || strings.EqualFold(n, catalog) {
			out = append(out, n)
		}
	}
	return out, nil
}

// namespace is one catalog.namespace pair.
type namespace struct{ catalog, name string }

// namespaces lists the namespaces of the matching catalogs whose name matches pattern.
func (h *Handler) namespaces(ctx context.Context, s *session, catalog, pattern string) ([]namespace, error) {
	cats, err := h.catalogs(ctx, s, catalog)
	if err != nil {
		return nil, err
	}
	re := translate.JDBCPattern(pattern)
	var out []namespace
	for _, cat := range cats {
		_, rows, err := h.collect(ctx, s, translate.ListNamespacesPlan(cat))
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if ns := str(r[0]); re.MatchString(ns) {
				out = append(out, namespace{cat, ns})
			}
		}
	}
	return out, nil
}

// table is one row of a table listing.
type table struct {
	catalog, schema, name, kind, remarks string
	temporary                            bool
}

// tables lists the tables and views matching the patterns. Temporary views, which every
// namespace listing repeats, are reported once, with empty catalog and schema.
func (h *Handler) tables(ctx context.Context, s *session, catalog, schemaPattern, tablePattern string, types []string) ([]table, error) {
	nss, err := h.namespaces(ctx, s, catalog, schemaPattern)
	if err != nil {
		return nil, err
	}
	re := translate.JDBCPattern(tablePattern)
	wantType := func(kind string) bool {
		if len(types) == 0 {
			return true
		}
		for _, t := range types {
			if strings.EqualFold(t, kind) {
				return true
			}
		}
		return false
	}
	var out []table
	temps := map[string]bool{}
	for _, ns := range nss {
		names, rows, err := h.collect(ctx, s, translate.ListTablesPlan(ns.catalog, ns.name))
		if err != nil {
			return nil, err
		}
		iName, iType, iTemp, iDesc := column(names, "name"), column(names, "tableType"), column(names, "isTemporary"), column(names, "description")
		for _, r := range rows {
			t := table{catalog: ns.catalog, schema: ns.name, name: str(r[iName]), kind: "TABLE", remarks: str(r[iDesc])}
			if tt := strings.ToUpper(str(r[iType])); tt == "VIEW" || tt == "TEMPORARY" {
				t.kind = "VIEW"
			}
			if tmp, _ := r[iTemp].(bool); tmp {
				if temps[t.name] {
					continue
				}
				temps[t.name] = true
				t.catalog, t.schema, t.temporary, t.kind = "", "", true, "VIEW"
			}
			if re.MatchString(t.name) && wantType(t.kind) {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// localResult registers a finished operation whose whole result is rows.
func (h *Handler) localResult(s *session, kind hiveserver.TOperationType, schema *arrow.Schema, rows [][]any) (*hiveserver.TOperationHandle, error) {
	rec, err := translate.MetadataRecord(schema, rows, h.mem)
	if err != nil {
		return nil, err
	}
	ts, err := translate.TableSchema(schema)
	if err != nil {
		rec.Release()
		return nil, err
	}
	op := newOperation(s, "", h.mem)
	op.localSchema, op.localRows = schema, rows
	op.pending = []arrow.RecordBatch{rec}
	op.eof = true
	op.schema = ts
	op.state = hiveserver.TOperationState_FINISHED_STATE
	close(op.ready)
	h.register(op)
	hd := h.opHandle(op, true)
	hd.OperationType = kind
	return hd, nil
}

func (h *Handler) GetCatalogs(ctx context.Context, req *hiveserver.TGetCatalogsReq) (*hiveserver.TGetCatalogsResp, error) {
	if req == nil {
		return &hiveserver.TGetCatalogsResp{Status: errStatus(missingRequest("GetCatalogs"))}, nil
	}
	hd, err := h.metadata(ctx, req.SessionHandle, hiveserver.TOperationType_GET_CATALOGS, translate.CatalogsSchema, func(s *session) ([][]any, error) {
		cats, err := h.catalogs(ctx, s, "")
		rows := make([][]any, len(cats))
		for i, c := range cats {
			rows[i] = []any{c}
		}
		return rows, err
	})
	return &hiveserver.TGetCatalogsResp{Status: statusOf(err), OperationHandle: hd}, nil
}

func (h *Handler) GetSchemas(ctx context.Context, req *hiveserver.TGetSchemasReq) (*hiveserver.TGetSchemasResp, error) {
	if req == nil {
		return &hiveserver.TGetSchemasResp{Status: errStatus(missingRequest("GetSchemas"))}, nil
	}
	hd, err := h.metadata(ctx, req.SessionHandle, hiveserver.TOperationType_GET_SCHEMAS, translate.SchemasSchema, func(s *session) ([][]any, error) {
		nss, err := h.namespaces(ctx, s, string(req.GetCatalogName()), string(req.GetSchemaName()))
		rows := make([][]any, len(nss))
		for i, ns := range nss {
			rows[i] = []any{ns.name, ns.catalog}
		}
		return rows, err
	})
	return &hiveserver.TGetSchemasResp{Status: statusOf(err), OperationHandle: hd}, nil
}

func (h *Handler) GetTables(ctx context.Context, req *hiveserver.TGetTablesReq) (*hiveserver.TGetTablesResp, error) {
	if req == nil {
		return &hiveserver.TGetTablesResp{Status: errStatus(missingRequest("GetTables"))}, nil
	}
	hd, err := h.metadata(ctx, req.SessionHandle, hiveserver.TOperationType_GET_TABLES, translate.TablesSchema, func(s *session) ([][]any, error) {
		ts, err := h.tables(ctx, s, string(req.GetCatalogName()), string(req.GetSchemaName()), string(req.GetTableName()), req.TableTypes)
		rows := make([][]any, len(ts))
		for i, t := range ts {
			rows[i] = []any{t.catalog, t.schema, t.name, t.kind, t.remarks, nil, nil, nil, nil, nil}
		}
		return rows, err
	})
	return &hiveserver.TGetTablesResp{Status: statusOf(err), OperationHandle: hd}, nil
}

func (h *Handler) GetTableTypes(ctx context.Context, req *hiveserver.TGetTableTypesReq) (*hiveserver.TGetTableTypesResp, error) {
	if req == nil {
		return &hiveserver.TGetTableTypesResp{Status: errStatus(missingRequest("GetTableTypes"))}, nil
	}
	hd, err := h.metadata(ctx, req.SessionHandle, hiveserver.TOperationType_GET_TABLE_TYPES, translate.TableTypesSchema, func(*session) ([][]any, error) {
		return [][]any{{"TABLE"}, {"VIEW"}}, nil
	})
	return &hiveserver.TGetTableTypesResp{Status: statusOf(err), OperationHandle: hd}, nil
}

func (h *Handler) GetColumns(ctx context.Context, req *hiveserver.TGetColumnsReq) (*hiveserver.TGetColumnsResp, error) {
	if req == nil {
		return &hiveserver.TGetColumnsResp{Status: errStatus(missingRequest("GetColumns"))}, nil
	}
	hd, err := h.metadata(ctx, req.SessionHandle, hiveserver.TOperationType_GET_COLUMNS, translate.ColumnsSchema, func(s *session) ([][]any, error) {
		ts, err := h.tables(ctx, s, string(req.GetCatalogName()), string(req.GetSchemaName()), string(req.GetTableName()), nil)
		if err != nil {
			return nil, err
		}
		colRE := translate.JDBCPattern(string(req.GetColumnName()))
		var rows [][]any
		for _, t := range ts {
			plan := translate.ListColumnsPlan(t.catalog, t.schema, t.name)
			if t.temporary {
				plan = translate.ListColumnsPlan("", "", t.name)
			}
			names, cols, err := h.collect(ctx, s, plan)
			if err != nil {
				return nil, err
			}
			iName, iType, iNull, iDesc := column(names, "name"), column(names, "dataType"), column(names, "nullable"), column(names, "description")
			for pos, c := range cols {
				name := str(c[iName])
				if !colRE.MatchString(name) {
					continue
				}
				ct := translate.SparkColumnType(str(c[iType]))
				nullable, _ := c[iNull].(bool)
				nullCode, isNull := int32(0), "NO"
				if nullable {
					nullCode, isNull = 1, "YES"
				}
				rows = append(rows, []any{t.catalog, t.schema, t.name, name, ct.DataType, ct.TypeName, ct.ColumnSize, nil,
					ct.DecimalDigits, ct.Radix, nullCode, str(c[iDesc]), nil, nil, nil, nil, int32(pos + 1), isNull,
					nil, nil, nil, nil, "NO"})
			}
		}
		return rows, nil
	})
	return &hiveserver.TGetColumnsResp{Status: statusOf(err), OperationHandle: hd}, nil
}

func (h *Handler) GetTypeInfo(ctx context.Context, req *hiveserver.TGetTypeInfoReq) (*hiveserver.TGetTypeInfoResp, error) {
	if req == nil {
		return &hiveserver.TGetTypeInfoResp{Status: errStatus(missingRequest("GetTypeInfo"))}, nil
	}
	hd, err := h.metadata(ctx, req.SessionHandle, hiveserver.TOperationType_GET_TYPE_INFO, translate.TypeInfoSchema, func(*session) ([][]any, error) {
		return translate.TypeInfoRows(), nil
	})
	return &hiveserver.TGetTypeInfoResp{Status: statusOf(err), OperationHandle: hd}, nil
}

func (h *Handler) GetFunctions(ctx context.Context, req *hiveserver.TGetFunctionsReq) (*hiveserver.TGetFunctionsResp, error) {
	if req == nil {
		return &hiveserver.TGetFunctionsResp{Status: errStatus(missingRequest("GetFunctions"))}, nil
	}
	hd, err := h.metadata(ctx, req.SessionHandle, hiveserver.TOperationType_GET_FUNCTIONS, translate.FunctionsSchema, func(s *session) ([][]any, error) {
		nss, err := h.namespaces(ctx, s, string(req.GetCatalogName()), string(req.GetSchemaName()))
		if err != nil || len(nss) == 0 {
			return nil, err
		}
		// Built-in and temporary functions appear in every namespace: list the first one only,
		// and its own functions.
		names, fns, err := h.collect(ctx, s, translate.ListFunctionsPlan(nss[0].catalog, nss[0].name))
		if err != nil {
			return nil, err
		}
		re := translate.JDBCPattern(string(req.FunctionName))
		iName, iDesc, iClass := column(names, "name"), column(names, "description"), column(names, "className")
		var rows [][]any
		for _, f := range fns {
			if name := str(f[iName]); re.MatchString(name) {
				rows = append(rows, []any{nil, nil, name, str(f[iDesc]), int32(1), str(f[iClass])})
			}
		}
		return rows, nil
	})
	return &hiveserver.TGetFunctionsResp{Status: statusOf(err), OperationHandle: hd}, nil
}

func (h *Handler) GetPrimaryKeys(ctx context.Context, req *hiveserver.TGetPrimaryKeysReq) (*hiveserver.TGetPrimaryKeysResp, error) {
	if req == nil {
		return &hiveserver.TGetPrimaryKeysResp{Status: errStatus(missingRequest("GetPrimaryKeys"))}, nil
	}
	// Spark tables have no primary keys: an empty result with JDBC's schema.
	hd, err := h.metadata(ctx, req.SessionHandle, hiveserver.TOperationType_GET_FUNCTIONS, translate.PrimaryKeysSchema, func(*session) ([][]any, error) { return nil, nil })
	return &hiveserver.TGetPrimaryKeysResp{Status: statusOf(err), OperationHandle: hd}, nil
}

func (h *Handler) GetCrossReference(ctx context.Context, req *hiveserver.TGetCrossReferenceReq) (*hiveserver.TGetCrossReferenceResp, error) {
	if req == nil {
		return &hiveserver.TGetCrossReferenceResp{Status: errStatus(missingRequest("GetCrossReference"))}, nil
	}
	// Spark tables have no foreign keys: an empty result with JDBC's schema.
	hd, err := h.metadata(ctx, req.SessionHandle, hiveserver.TOperationType_GET_FUNCTIONS, translate.CrossReferenceSchema, func(*session) ([][]any, error) { return nil, nil })
	return &hiveserver.TGetCrossReferenceResp{Status: statusOf(err), OperationHandle: hd}, nil
}

// metadata runs one metadata call: look the session up, compute the rows, and register the
// finished operation.
func (h *Handler) metadata(ctx context.Context, sh *hiveserver.TSessionHandle, kind hiveserver.TOperationType, schema *arrow.Schema, rows func(*session) ([][]any, error)) (*hiveserver.TOperationHandle, error) {
	s, err := h.lookupSession(sh)
	if err != nil {
		return nil, err
	}
	r, err := rows(s)
	if err != nil {
		return nil, err
	}
	return h.localResult(s, kind, schema, r)
}

// statusOf is okStatus for nil and errStatus otherwise.
func statusOf(err error) *hiveserver.TStatus {
	if err != nil {
		return errStatus(err)
	}
	return okStatus()
}
