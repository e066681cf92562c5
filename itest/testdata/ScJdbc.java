import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Drives the Spark Connect JDBC driver (jdbc:sc://) and prints what it sees, one line per
 * fact, so that two servers' answers can be compared line by line: the connection's
 * DatabaseMetaData (product, driver, catalogs, schemas, tables and columns of one schema),
 * and a query's ResultSetMetaData and values.
 *
 * <p>Usage: ScJdbc URL SCHEMA [setup]. With "setup", it first creates SCHEMA with a table
 * and a view.
 */
public class ScJdbc {
    public static void main(String[] args) throws Exception {
        String url = args[0], schema = args[1];
        boolean setup = args.length > 2 && args[2].equals("setup");
        List<String> out = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url)) {
            try (Statement st = c.createStatement()) {
                if (setup) {
                    st.execute("CREATE DATABASE " + schema);
                    st.execute("CREATE TABLE " + schema + ".t (id BIGINT, name STRING, price DECIMAL(10,2), at TIMESTAMP, ok BOOLEAN, "
                        + "addr STRUCT<City: STRING, zip: INT>) USING parquet");
                    st.execute("INSERT INTO " + schema + ".t VALUES (1, 'a', 1.25, TIMESTAMP'2024-01-02 03:04:05', true, named_struct('City', 'x', 'zip', 1)), "
                        + "(2, NULL, NULL, NULL, NULL, NULL)");
                    st.execute("CREATE VIEW " + schema + ".v AS SELECT id, name FROM " + schema + ".t");
                }
            }
            DatabaseMetaData md = c.getMetaData();
            out.add("product\t" + md.getDatabaseProductName() + "\t" + md.getDatabaseProductVersion());
            out.add("driver\t" + md.getDriverName() + "\t" + md.getDriverVersion());
            out.add("quote\t" + md.getIdentifierQuoteString() + "\tescape\t" + md.getSearchStringEscape());
            try (ResultSet rs = md.getCatalogs()) {
                while (rs.next()) out.add("catalog\t" + rs.getString(1));
            }
            try (ResultSet rs = md.getSchemas(null, schema)) {
                while (rs.next()) out.add(row("schema", rs));
            }
            try (ResultSet rs = md.getTables(null, schema, "%", null)) {
                while (rs.next()) out.add(row("table", rs));
            }
            try (ResultSet rs = md.getColumns(null, schema, "%", "%")) {
                while (rs.next()) out.add(row("column", rs));
            }
            try (Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT * FROM " + schema + ".t ORDER BY id")) {
                ResultSetMetaData m = rs.getMetaData();
                for (int i = 1; i <= m.getColumnCount(); i++) {
                    out.add("result column\t" + m.getColumnName(i) + "\t" + m.getColumnType(i) + "\t" + m.getColumnTypeName(i)
                        + "\t" + m.getPrecision(i) + "\t" + m.getScale(i) + "\t" + m.isNullable(i));
                }
                while (rs.next()) {
                    StringBuilder b = new StringBuilder("result row");
                    for (int i = 1; i <= m.getColumnCount(); i++) b.append('\t').append(rs.getString(i));
                    out.add(b.toString());
                }
            }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_user(), current_database()")) {
                rs.next();
                out.add("session\t" + rs.getString(1) + "\t" + rs.getString(2));
            }
        }
        for (String l : out) System.out.println(l);
    }

    private static String row(String kind, ResultSet rs) throws Exception {
        StringBuilder b = new StringBuilder(kind);
        ResultSetMetaData m = rs.getMetaData();
        for (int i = 1; i <= m.getColumnCount(); i++) b.append('\t').append(m.getColumnName(i)).append('=').append(rs.getString(i));
        return b.toString();
    }
}
