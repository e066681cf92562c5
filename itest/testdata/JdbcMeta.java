import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Prints what DatabaseMetaData says about one schema pattern, one sorted line per row, so
 * that two servers' answers can be compared line by line.
 *
 * <p>Usage: JdbcMeta URL USER SCHEMA_PATTERN
 */
public class JdbcMeta {
    public static void main(String[] args) throws Exception {
        String url = args[0], user = args[1], schema = args[2];
        List<String> out = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url, user, "x")) {
            DatabaseMetaData md = c.getMetaData();
            try (ResultSet rs = md.getSchemas(null, schema)) {
                while (rs.next()) {
                    out.add(String.join("\t", "schema", s(rs.getString("TABLE_CATALOG")), s(rs.getString("TABLE_SCHEM"))));
                }
            }
            try (ResultSet rs = md.getTables(null, schema, "%", null)) {
                while (rs.next()) {
                    out.add(String.join("\t", "table", s(rs.getString("TABLE_CAT")), s(rs.getString("TABLE_SCHEM")),
                        s(rs.getString("TABLE_NAME")), s(rs.getString("TABLE_TYPE")), s(rs.getString("REMARKS"))));
                }
            }
            try (ResultSet rs = md.getColumns(null, schema, "%", "%")) {
                while (rs.next()) {
                    out.add(String.join("\t", "column", s(rs.getString("TABLE_CAT")), s(rs.getString("TABLE_SCHEM")),
                        s(rs.getString("TABLE_NAME")), s(rs.getString("COLUMN_NAME")), s(rs.getString("DATA_TYPE")),
                        s(rs.getString("TYPE_NAME")), s(rs.getString("COLUMN_SIZE")), s(rs.getString("DECIMAL_DIGITS")),
                        s(rs.getString("NULLABLE")), s(rs.getString("REMARKS")), s(rs.getString("ORDINAL_POSITION"))));
                }
            }
        }
        Collections.sort(out);
        for (String l : out) System.out.println(l);
    }

    private static String s(String v) { return v == null ? "<null>" : v; }
}
