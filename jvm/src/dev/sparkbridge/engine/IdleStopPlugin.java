package dev.sparkbridge.engine;

import java.util.Collections;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import org.apache.spark.SparkContext;
import org.apache.spark.api.plugin.DriverPlugin;
import org.apache.spark.api.plugin.ExecutorPlugin;
import org.apache.spark.api.plugin.PluginContext;
import org.apache.spark.api.plugin.SparkPlugin;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerEvent;

/**
 * Stops the engine after {@code spark.sparkbridge.idle.timeout} milliseconds without a Spark
 * Connect session or operation, whether or not a bridge is alive.
 *
 * <p>An engine the bridge does not own as a child process (a cluster-mode driver) must never be
 * orphaned forever: the bridge's reaper stops idle engines quickly, and this is the backstop
 * when no bridge is left. It counts sessions and operations from the Connect server's own
 * listener events (session started and closed, operation started and closed, failed or
 * canceled), by class name, so it loads on any Spark.
 */
public final class IdleStopPlugin implements SparkPlugin {
  static final String TIMEOUT_CONF = "spark.sparkbridge.idle.timeout";
  private static final String EVENTS = "org.apache.spark.sql.connect.service.SparkListenerConnect";

  @Override
  public DriverPlugin driverPlugin() {
    return new Driver();
  }

  @Override
  public ExecutorPlugin executorPlugin() {
    return null;
  }

  static final class Driver implements DriverPlugin {
    private final Object lock = new Object();
    private final Set<String> sessions = new HashSet<>();
    private final Set<String> operations = new HashSet<>();
    private long idleSince = System.nanoTime();

    @Override
    public Map<String, String> init(SparkContext sc, PluginContext ctx) {
      long timeoutMs = sc.getConf().getLong(TIMEOUT_CONF, 0);
      if (timeoutMs <= 0) {
        return Collections.emptyMap();
      }
      sc.addSparkListener(new SparkListener() {
        @Override
        public void onOtherEvent(SparkListenerEvent event) {
          String name = event.getClass().getName();
          if (name.startsWith(EVENTS)) {
            note(name.substring(EVENTS.length()), event);
          }
        }
      });
      Thread t = new Thread(() -> watch(sc, timeoutMs), "sparkbridge-idle-stop");
      t.setDaemon(true);
      t.start();
      return Collections.emptyMap();
    }

    private void note(String kind, SparkListenerEvent event) {
      try {
        synchronized (lock) {
          switch (kind) {
            case "SessionStarted" -> sessions.add(field(event, "sessionId"));
            case "SessionClosed" -> sessions.remove(field(event, "sessionId"));
            case "OperationStarted" -> operations.add(field(event, "jobTag"));
            case "OperationClosed", "OperationFailed", "OperationCanceled" -> operations.remove(field(event, "jobTag"));
            default -> {
              return;
            }
          }
          if (sessions.isEmpty() && operations.isEmpty()) {
            idleSince = System.nanoTime();
          }
        }
      } catch (ReflectiveOperationException e) {
        System.err.println("sparkbridge: cannot read a Connect event: " + e);
      }
    }

    private static String field(Object event, String name) throws ReflectiveOperationException {
      return String.valueOf(event.getClass().getMethod(name).invoke(event));
    }

    private void watch(SparkContext sc, long timeoutMs) {
      long step = Math.max(100, Math.min(timeoutMs / 4, 10_000));
      while (!sc.isStopped()) {
        try {
          Thread.sleep(step);
        } catch (InterruptedException e) {
          return;
        }
        long idleMs;
        synchronized (lock) {
          idleMs = sessions.isEmpty() && operations.isEmpty() ? (System.nanoTime() - idleSince) / 1_000_000 : 0;
        }
        if (idleMs >= timeoutMs) {
          System.err.println("sparkbridge: no Spark Connect session or operation for " + idleMs + " ms; stopping the engine");
          sc.stop();
          System.exit(0);
        }
      }
    }
  }
}
