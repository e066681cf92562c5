package thriftfront

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sparkbridge/sparkbridge/engine"
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
	ctx, cancel := context.WithCancel(ctx) // ends the engine call however collect returns
	defer cancel()
	stream, err := s.es.Execute(ctx, engine.ExecuteRequest{ClientType: clientType, Plan: plan})
	if err != nil {
		return nil, nil, err
	}
	var names []string
	var rows [][]any
	for {
		resp, err := stream.Next()
		if errors.Is(err, io.EOF) {
			return names, rows, nil
		}
		if err != nil {
			return nil, nil, err
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
		for i, rec := range recs {
			vals, err := translate.RecordValues(rec)
			rec.Release()
			if err != nil {
				releaseAll(recs[i+1:])
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

// sessionCatalog is Spark's name for the catalog of the session's metastore.
const sessionCatalog = "spark_catalog"

// catalogs lists the catalogs whose name is catalog (any, when empty): those the session
// has loaded and those the engine has configured (spark.sql.catalog.NAME), which Spark
// loads only on first use and so would not list yet. It also returns the name of Spark's
// global temporary view database (spark.sql.globalTempDatabase).
func (h *Handler) catalogs(ctx context.Context, s *session, catalog string) ([]string, string, error) {
	names, rows, err := h.collect(ctx, s, translate.ListCatalogsPlan())
	if err != nil {
		return nil, "", err
	}
	i := column(names, "name")
	found := make([]string, 0, len(rows))
	for _, r := range rows {
		found = append(found, str(r[i]))
	}
	names, rows, err = h.collect(ctx, s, translate.StatementPlan("SET"))
	if err != nil {
		return nil, "", err
	}
	globalTemp := "global_temp"
	if k, v := column(names, "key"), column(names, "value"); k >= 0 {
		for _, r := range rows {
			found = append(found, translate.ConfiguredCatalog(str(r[k])))
			if str(r[k]) == "spark.sql.globalTempDatabase" && v >= 0 && str(r[v]) != "" {
				globalTemp = strings.ToLower(str(r[v]))
			}
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
	return out, globalTemp, nil
}

// namespace is one catalog.namespace pair.
type namespace struct{ catalog, name string }

// namespaces lists the namespaces of the matching catalogs whose name matches the schema
// pattern (see translate.SchemaPattern), and the global temporary view database's name.
func (h *Handler) namespaces(ctx context.Context, s *session, catalog string, pattern *string) ([]namespace, string, error) {
	cats, globalTemp, err := h.catalogs(ctx, s, catalog)
	if err != nil {
		return nil, "", err
	}
	p := translate.SchemaPattern(pattern)
	var out []namespace
	for _, cat := range cats {
		_, rows, err := h.collect(ctx, s, translate.ListNamespacesPlan(cat))
		if err != nil {
			return nil, "", err
		}
		for _, r := range rows {
			if ns := str(r[0]); p.Match(ns) {
				out = append(out, namespace{cat, ns})
			}
		}
	}
	return out, globalTemp, nil
}

// withTempViews reports whether a listing in catalog (any, when empty) includes the
// session's temporary views, which live beside the session catalog.
func withTempViews(catalog string) bool {
	return catalog == "" || strings.EqualFold(catalog, sessionCatalog)
}

// table is one row of a table listing.
type table struct {
	catalog, schema, name, kind, remarks string
	// temporary marks a temporary view: a local one has no schema (nil in results), a
	// global one the global temporary database's.
	temporary, global bool
}

// tableSchema is the TABLE_SCHEM value of t: nil for a local temporary view.
func (t table) tableSchema() any {
	if t.temporary && !t.global {
		return nil
	}
	return t.schema
}

// tables lists the tables and views matching the patterns, as Spark Thrift Server does:
// those of every matching namespace, then the temporary views (with VIEW among the types):
// the global ones when the schema pattern selects their database, and the local ones always.
func (h *Handler) tables(ctx context.Context, s *session, catalog string, schemaPattern, tablePattern *string, types []string) ([]table, error) {
	nss, globalTemp, err := h.namespaces(ctx, s, catalog, schemaPattern)
	if err != nil {
		return nil, err
	}
	p := translate.TablePattern(tablePattern)
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
	globalViews := false
	list := func(cat, ns string, temp bool) error {
		names, rows, err := h.collect(ctx, s, translate.ListTablesPlan(cat, ns))
		if err != nil {
			return err
		}
		iName, iType, iTemp, iDesc, iNS := column(names, "name"), column(names, "tableType"), column(names, "isTemporary"), column(names, "description"), column(names, "namespace")
		for _, r := range rows {
			if tmp, _ := r[iTemp].(bool); tmp != temp {
				continue // a namespace's listing repeats the temporary views
			}
			t := table{catalog: cat, schema: ns, name: str(r[iName]), kind: "TABLE", remarks: str(r[iDesc]), temporary: temp}
			if tt := strings.ToUpper(str(r[iType])); tt == "VIEW" || tt == "TEMPORARY" || temp {
				t.kind = "VIEW"
			}
			if temp {
				t.catalog = "" // temporary views are listed with an empty catalog
				parts, _ := r[iNS].([]string)
				t.global = len(parts) > 0
				if t.global && !globalViews {
					continue
				}
			}
			if p.Match(t.name) && wantType(t.kind) {
				out = append(out, t)
			}
		}
		return nil
	}
	for _, ns := range nss {
		if err := list(ns.catalog, ns.name, false); err != nil {
			return nil, err
		}
	}
	if withTempViews(catalog) && wantType("VIEW") {
		if globalViews, err = translate.GlobalTempSchemaMatches(schemaPattern, globalTemp); err != nil {
			return nil, invalidRequest(err.Error())
		}
		// Spark lists the global temporary views and then the local ones there. The
		// session catalog is named: a bare global_temp would resolve in the session's
		// current catalog, which need not be spark_catalog.
		if err := list(sessionCatalog, globalTemp, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (h *Handler) GetCatalogs(ctx context.Context, req *hiveserver.TGetCatalogsReq) (*hiveserver.TGetCatalogsResp, error) {
	if req == nil {
		return &hiveserver.TGetCatalogsResp{Status: errStatus(missingRequest("GetCatalogs"))}, nil
	}
	hd, err := h.metadata(ctx, req.SessionHandle, hiveserver.TOperationType_GET_CATALOGS, translate.CatalogsSchema, func(s *session) ([][]any, error) {
		cats, _, err := h.catalogs(ctx, s, "")
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
		catalog := string(req.GetCatalogName())
		nss, globalTemp, err := h.namespaces(ctx, s, catalog, (*string)(req.SchemaName))
		var rows [][]any
		for _, ns := range nss {
			rows = append(rows, []any{ns.name, ns.catalog})
		}
		if err != nil {
			return nil, err
		}
		// Spark Thrift Server lists the global temporary view database last, for an empty
		// pattern too.
		p := (*string)(req.SchemaName)
		global, err := translate.GlobalTempSchemaMatches(p, globalTemp)
		if err != nil {
			return nil, invalidRequest(err.Error())
		}
		if withTempViews(catalog) && (p == nil || *p == "" || global) {
			rows = append(rows, []any{globalTemp, sessionCatalog})
		}
		return rows, nil
	})
	return &hiveserver.TGetSchemasResp{Status: statusOf(err), OperationHandle: hd}, nil
}

func (h *Handler) GetTables(ctx context.Context, req *hiveserver.TGetTablesReq) (*hiveserver.TGetTablesResp, error) {
	if req == nil {
		return &hiveserver.TGetTablesResp{Status: errStatus(missingRequest("GetTables"))}, nil
	}
	hd, err := h.metadata(ctx, req.SessionHandle, hiveserver.TOperationType_GET_TABLES, translate.TablesSchema, func(s *session) ([][]any, error) {
		ts, err := h.tables(ctx, s, string(req.GetCatalogName()), (*string)(req.SchemaName), (*string)(req.TableName), req.TableTypes)
		rows := make([][]any, len(ts))
		for i, t := range ts {
			rows[i] = []any{t.catalog, t.tableSchema(), t.name, t.kind, t.remarks, nil, nil, nil, nil, nil}
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
		colPattern, err := translate.ColumnPattern((*string)(req.ColumnName))
		if err != nil {
			return nil, invalidRequest("GetColumns: column name pattern: " + err.Error())
		}
		ts, err := h.tables(ctx, s, string(req.GetCatalogName()), (*string)(req.SchemaName), (*string)(req.TableName), nil)
		if err != nil {
			return nil, err
		}
		var rows [][]any
		for _, t := range ts {
			plan := translate.ListColumnsPlan(t.catalog, t.schema, t.name)
			switch {
			case t.global: // global_temp.v resolves before any catalog, the current one included
				plan = translate.ListColumnsPlan("", t.schema, t.name)
			case t.temporary:
				plan = translate.ListColumnsPlan("", "", t.name)
			}
			names, cols, err := h.collect(ctx, s, plan)
			if err != nil {
				return nil, err
			}
			iName, iType, iNull, iDesc := column(names, "name"), column(names, "dataType"), column(names, "nullable"), column(names, "description")
			for pos, c := range cols {
				name := str(c[iName])
				if !colPattern.Match(name) {
					continue
				}
				ct := translate.SparkColumnType(str(c[iType]))
				nullable, _ := c[iNull].(bool)
				nullCode, isNull := int32(0), "NO"
				if nullable {
					nullCode, isNull = 1, "YES"
				}
				rows = append(rows, []any{t.catalog, t.tableSchema(), t.name, name, ct.DataType, ct.TypeName, ct.ColumnSize, nil,
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
		catalog := string(req.GetCatalogName())
		if catalog == "" {
			catalog = sessionCatalog
		}
		nss, _, err := h.namespaces(ctx, s, catalog, (*string)(req.SchemaName))
		if err != nil {
			return nil, err
		}
		// As Spark Thrift Server does, every matching schema lists the functions visible
		// from it: the built-in and temporary ones, and its own.
		p := translate.FunctionPattern(string(req.FunctionName))
		var rows [][]any
		for _, ns := range nss {
			names, fns, err := h.collect(ctx, s, translate.ListFunctionsPlan(ns.catalog, ns.name))
			if err != nil {
				return nil, err
			}
			iName, iDesc, iClass := column(names, "name"), column(names, "description"), column(names, "className")
			for _, f := range fns {
				name, class := str(f[iName]), str(f[iClass])
				if class == "" && builtinOperators[name] {
					continue // Spark Connect's catalog lists these keywords; Spark Thrift Server does not
				}
				if p.Match(name) {
					// Spark Thrift Server appends the extended usage, which Spark Connect's catalog
					// does not carry.
					rows = append(rows, []any{ns.catalog, ns.name, name, "Usage: " + str(f[iDesc]), int32(functionResultUnknown), class})
				}
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

// builtinOperators are the operators Spark's catalog API lists as functions with no class
// (FunctionRegistry.builtinOperators) and its session catalog, which Spark Thrift Server
// reads, does not.
var builtinOperators = map[string]bool{"<>": true, "!=": true, "between": true, "case": true, "||": true}

// functionResultUnknown is java.sql.DatabaseMetaData's FUNCTION_TYPE for a function whose
// result kind is not known, what Spark Thrift Server reports for every function.
const functionResultUnknown = 0

// metadata runs one metadata call: look the session up, compute the rows, and register the
// finished operation.
func (h *Handler) metadata(ctx context.Context, sh *hiveserver.TSessionHandle, kind hiveserver.TOperationType, schema *arrow.Schema, rows func(*session) ([][]any, error)) (*hiveserver.TOperationHandle, error) {
	s, err := h.lookupSession(sh)
	if err != nil {
		return nil, err
	}
	// A metadata call is an operation like any other: registered (and counted against the
	// session's limit) while it asks the engine, and until its handle is closed.
	op := newOperation(s, "", h.mem)
	if err := h.register(op, engine.KindMetadata, kind.String()); err != nil {
		return nil, err
	}
	r, err := rows(s)
	if err == nil {
		err = op.setLocalResult(schema, r)
	}
	if err != nil {
		h.detachOp(op)
		op.setState(hiveserver.TOperationState_ERROR_STATE, err)
		close(op.ready)
		op.close()
		return nil, err
	}
	hd := h.opHandle(op, true)
	hd.OperationType = kind
	return hd, nil
}

// statusOf is okStatus for nil and errStatus otherwise.
func statusOf(err error) *hiveserver.TStatus {
	if err != nil {
		return errStatus(err)
	}
	return okStatus()
}
