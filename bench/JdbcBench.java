import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;

/**
 * A Hive JDBC fetch loop: runs one query WARMUP + REPS times and reads every column of every
 * row with getLong/getString, as a JDBC application would. Prints one JSON object of seconds.
 *
 * usage: JdbcBench URL QUERY FETCHSIZE WARMUP REPS EXPECTED_ROWS
 */
public class JdbcBench {
    public static void main(String[] args) throws Exception {
        String url = args[0], query = args[1];
        int fetchSize = Integer.parseInt(args[2]), warmup = Integer.parseInt(args[3]), reps = Integer.parseInt(args[4]);
        long expected = Long.parseLong(args[5]);
        StringBuilder out = new StringBuilder("{\"warmup\": [");
        if (warmup == 0) out.append("], \"runs\": [");
        try (Connection conn = DriverManager.getConnection(url, "bench", "bench")) {
            for (int i = 0; i < warmup + reps; i++) {
                long start = System.nanoTime();
                long rows = 0, sum = 0, chars = 0;
                try (Statement st = conn.createStatement()) {
                    st.setFetchSize(fetchSize);
                    try (ResultSet rs = st.executeQuery(query)) {
                        int cols = rs.getMetaData().getColumnCount();
                        while (rs.next()) {
                            rows++;
                            sum += rs.getLong(1);
                            for (int c = 2; c <= cols; c++) {
                                if (c <= 5) sum += rs.getLong(c);
                                else chars += rs.getString(c).length();
                            }
                        }
                    }
                }
                double secs = (System.nanoTime() - start) / 1e9;
                if (rows != expected) throw new IllegalStateException(rows + " rows, want " + expected);
                if (chars == 0) throw new IllegalStateException("no string data read");
                if (i == warmup && warmup > 0) out.append("], \"runs\": [");
                else if (i > 0) out.append(", ");
                out.append(secs);
            }
        }
        if (reps == 0) out.append("], \"runs\": [");
        System.out.println(out.append("]}"));
    }
}
