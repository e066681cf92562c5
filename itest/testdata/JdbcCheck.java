import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.SQLTimeoutException;
import java.sql.Statement;

/** Drives sparkbridge with the Hive JDBC driver and prints what it sees, one fact a line. */
public class JdbcCheck {
    static final String LONG_QUERY = "SELECT sum(id % 7) FROM range(0, 1000000000000)";

    public static void main(String[] args) throws Exception {
        String url = args[0];
        String table = args[1];
        try (Connection c = DriverManager.getConnection(url, "alice", "x")) {
            DatabaseMetaData md = c.getMetaData();
            System.out.println("product=" + md.getDatabaseProductName() + " " + md.getDatabaseProductVersion());
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE " + table + " (i INT, s STRING, d DECIMAL(10,2)) USING parquet");
            }
            try (ResultSet rs = md.getCatalogs()) {
                while (rs.next()) System.out.println("catalog=" + rs.getString("TABLE_CAT"));
            }
            try (ResultSet rs = md.getSchemas()) {
                while (rs.next()) System.out.println("schema=" + rs.getString("TABLE_SCHEM") + " " + rs.getString("TABLE_CATALOG"));
            }
            try (ResultSet rs = md.getTables(null, "default", table, null)) {
                while (rs.next()) System.out.println("table=" + rs.getString("TABLE_NAME") + " " + rs.getString("TABLE_TYPE"));
            }
            try (ResultSet rs = md.getColumns(null, "default", table, "%")) {
                while (rs.next()) {
                    System.out.println("column=" + rs.getString("COLUMN_NAME") + " " + rs.getInt("DATA_TYPE") + " " + rs.getString("TYPE_NAME")
                            + " " + rs.getInt("COLUMN_SIZE") + " " + rs.getInt("DECIMAL_DIGITS") + " " + rs.getInt("ORDINAL_POSITION"));
                }
            }
            try (ResultSet rs = md.getTypeInfo()) {
                int n = 0;
                while (rs.next()) n++;
                System.out.println("typeinfo=" + n);
            }
            try (ResultSet rs = md.getPrimaryKeys(null, "default", table)) {
                System.out.println("primarykeys=" + rs.getMetaData().getColumnCount() + " " + rs.next());
            }
            String types = "SELECT true, CAST(1 AS TINYINT), CAST(2 AS SMALLINT), 3, 4L, CAST(1.5 AS FLOAT), 2.5D, CAST(1.25 AS DECIMAL(5,2)), 'x',"
                    + " DATE'2024-01-31', TIMESTAMP'2024-01-31 01:02:03', X'41', array(1, 2), map('k', 1), named_struct('a', 1), NULL";
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(types)) {
                ResultSetMetaData m = rs.getMetaData();
                rs.next();
                for (int i = 1; i <= m.getColumnCount(); i++) {
                    Object o = rs.getObject(i);
                    String v = o == null ? "null" : o instanceof byte[] ? new String((byte[]) o, "UTF-8") : o.toString();
                    System.out.println("object=" + i + " " + m.getColumnTypeName(i) + " " + (o == null ? "null" : o.getClass().getSimpleName()) + " " + v);
                }
            }
            try (Statement s = c.createStatement()) {
                s.setQueryTimeout(2);
                try {
                    s.executeQuery(LONG_QUERY);
                    System.out.println("timeout=none");
                } catch (SQLTimeoutException e) {
                    System.out.println("timeout=SQLTimeoutException");
                } catch (SQLException e) {
                    System.out.println("timeout=other " + e.getMessage());
                }
            }
            try (Statement s = c.createStatement()) {
                Thread canceller = new Thread(() -> {
                    try {
                        Thread.sleep(3000);
                        s.cancel();
                    } catch (Exception e) {
                        System.out.println("cancel-thread=" + e);
                    }
                });
                canceller.start();
                try {
                    s.executeQuery(LONG_QUERY);
                    System.out.println("cancel=none");
                } catch (SQLException e) {
                    System.out.println("cancel=" + e.getMessage());
                }
                canceller.join();
            }
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 'still' AS alive")) {
                rs.next();
                System.out.println("after=" + rs.getString(1));
            }
        }
    }
}
