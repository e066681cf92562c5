package dev.sparkbridge.engine;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Properties;

/**
 * Finds the secrets the bridge gives an engine (its Connect secret, a cluster-mode driver's
 * one-time launch token), never from a command line.
 *
 * <p>A secret is read from its environment variable, which is how the bridge delivers it to
 * a local driver, to a standalone cluster-mode driver (spark-submit hands SPARK_* variables
 * on) and to a Kubernetes driver pod (from a Kubernetes secret). A YARN cluster-mode driver
 * has no such channel: the bridge ships a properties file of mode 0600 with {@code --files}
 * instead, and names it in {@code spark.sparkbridge.secrets.file}, relative to the driver's
 * working directory, where YARN puts it.
 */
final class Secrets {
  static final String FILE_CONF = "spark.sparkbridge.secrets.file";

  private Secrets() {}

  /** The secret named name, or null when the bridge gave none. */
  static String get(String name) {
    String v = System.getenv(name);
    if (v != null && !v.isEmpty()) {
      return v;
    }
    String file = System.getProperty(FILE_CONF);
    if (file == null || file.isEmpty()) {
      org.apache.spark.SparkEnv env = org.apache.spark.SparkEnv.get();
      if (env != null) {
        file = env.conf().get(FILE_CONF, "");
      }
    }
    if (file == null || file.isEmpty()) {
      return null;
    }
    Path path = Paths.get(file);
    Properties props = new Properties();
    try (InputStream in = Files.newInputStream(path)) {
      props.load(in);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the engine's secrets file " + path.toAbsolutePath() + ": " + e, e);
    }
    v = props.getProperty(name);
    return v == null || v.isEmpty() ? null : v;
  }
}
