package translate

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"strings"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// StatementPlan returns the Spark Connect plan that runs one HiveServer2
// statement. The statement is sent as a SQL relation at the root of the plan,
// so the engine parses and analyses it exactly as spark.sql(sql) would:
// queries stream their rows back as Arrow batches, and commands (DDL, SET,
// INSERT) run eagerly and return their result rows, if any, the same way.
//
// The relation carries no plan id: plan ids only matter to clients that refer
// back to parts of an earlier plan, which a HiveServer2 statement never does.
func StatementPlan(sql string) *connect.Plan {
	return &connect.Plan{
		OpType: &connect.Plan_Root{
			Root: &connect.Relation{
				RelType: &connect.Relation_Sql{
					Sql: &connect.SQL{Query: sql},
				},
			},
		},
	}
}

func catalogPlan(c *connect.Catalog) *connect.Plan {
	return &connect.Plan{OpType: &connect.Plan_Root{Root: &connect.Relation{RelType: &connect.Relation_Catalog{Catalog: c}}}}
}

// QuoteIdent quotes one identifier part for Spark SQL.
func QuoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// qualified joins the quoted parts of a multi-part name, leaving out empty leading parts.
func qualified(parts ...string) string {
	for len(parts) > 1 && parts[0] == "" {
		parts = parts[1:]
	}
	for i, p := range parts {
		parts[i] = QuoteIdent(p)
	}
	return strings.Join(parts, ".")
}

// ListCatalogsPlan lists the session's catalogs (name, description).
func ListCatalogsPlan() *connect.Plan {
	return catalogPlan(&connect.Catalog{CatType: &connect.Catalog_ListCatalogs{ListCatalogs: &connect.ListCatalogs{}}})
}

// ListNamespacesPlan lists the namespaces of a catalog (one column, namespace).
func ListNamespacesPlan(catalog string) *connect.Plan {
	return StatementPlan("SHOW NAMESPACES IN " + QuoteIdent(catalog))
}

// ListTablesPlan lists the tables and views of catalog.namespace (name, catalog, namespace,
// description, tableType, isTemporary).
// An empty catalog names the session's current one: ListTablesPlan("", "global_temp") lists
// the global temporary views, and local ones, as Spark lists them there.
func ListTablesPlan(catalog, namespace string) *connect.Plan {
	db := qualified(catalog, namespace)
	return catalogPlan(&connect.Catalog{CatType: &connect.Catalog_ListTables{ListTables: &connect.ListTables{DbName: &db}}})
}

// ListColumnsPlan lists the columns of catalog.namespace.table (name, description, dataType,
// nullable, isPartition, isBucket, ...).
// Empty leading parts are left out: ListColumnsPlan("", "", "v") names a temporary view.
func ListColumnsPlan(catalog, namespace, table string) *connect.Plan {
	name := qualified(catalog, namespace, table)
	return catalogPlan(&connect.Catalog{CatType: &connect.Catalog_ListColumns{ListColumns: &connect.ListColumns{TableName: name}}})
}

// ListFunctionsPlan lists the functions visible from catalog.namespace (name, catalog,
// namespace, description, className, isTemporary).
func ListFunctionsPlan(catalog, namespace string) *connect.Plan {
	db := qualified(catalog, namespace)
	return catalogPlan(&connect.Catalog{CatType: &connect.Catalog_ListFunctions{ListFunctions: &connect.ListFunctions{DbName: &db}}})
}

// PlanSummary describes a Spark Connect plan in a line, for listings of running work: the
// SQL text of a SQL relation or command, otherwise the kind of the plan's top relation or
// command ("relation project", "command write_operation").
func PlanSummary(p *connect.Plan) string {
	if root := p.GetRoot(); root != nil {
		if q := root.GetSql().GetQuery(); q != "" {
			return q
		}
		return "relation " + oneofName(root.ProtoReflect(), "rel_type")
	}
	if cmd := p.GetCommand(); cmd != nil {
		if q := cmd.GetSqlCommand().GetSql(); q != "" {
			return q
		}
		if q := cmd.GetSqlCommand().GetInput().GetSql().GetQuery(); q != "" {
			return q
		}
		return "command " + oneofName(cmd.ProtoReflect(), "command_type")
	}
	return "empty plan"
}

// oneofName is the name of the field set in message m's oneof, or "unknown".
func oneofName(m protoreflect.Message, oneof string) string {
	od := m.Descriptor().Oneofs().ByName(protoreflect.Name(oneof))
	if od == nil {
		return "unknown"
	}
	if fd := m.WhichOneof(od); fd != nil {
		return string(fd.Name())
	}
	return "unknown"
}
