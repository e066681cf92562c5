import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.security.UserGroupInformation;

/**
 * Logs in from a keytab with Hadoop's UserGroupInformation, as a service would, then runs
 * SELECT current_user() through the Hive JDBC driver with a principal= URL.
 * Arguments: JDBC URL, client principal, keytab path. Prints login=USER and user=CURRENT_USER.
 */
public class KerberosJdbc {
  public static void main(String[] args) throws Exception {
    Configuration conf = new Configuration();
    conf.set("hadoop.security.authentication", "kerberos");
    UserGroupInformation.setConfiguration(conf);
    UserGroupInformation.loginUserFromKeytab(args[1], args[2]);
    System.out.println("login=" + UserGroupInformation.getLoginUser().getShortUserName());
    try (Connection c = DriverManager.getConnection(args[0]);
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT current_user() AS u")) {
      rs.next();
      System.out.println("user=" + rs.getString(1));
    }
  }
}
