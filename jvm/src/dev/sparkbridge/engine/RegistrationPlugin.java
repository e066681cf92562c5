package dev.sparkbridge.engine;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.Map;

import org.apache.spark.SparkContext;
import org.apache.spark.api.plugin.DriverPlugin;
import org.apache.spark.api.plugin.ExecutorPlugin;
import org.apache.spark.api.plugin.PluginContext;
import org.apache.spark.api.plugin.SparkPlugin;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerEvent;

/**
 * Tells the bridge where this engine's Spark Connect server listens, once it does.
 *
 * <p>In cluster deploy mode the bridge cannot know where the driver will run, nor (with port
 * 0) on which port its Connect server will listen. This driver plugin waits for the server's
 * own {@code SparkListenerConnectServiceStarted} event and posts the driver's host, the bound
 * port and the Spark application id to {@code spark.sparkbridge.register.url}, authenticated
 * by the one-time launch token in the environment variable {@code SPARK_BRIDGE_LAUNCH_TOKEN}
 * or a YARN driver's secrets file (never on the command line; see {@link Secrets}). Without
 * both, the plugin does nothing: an engine launched in
 * client mode is reached at the address the bridge chose.
 */
public final class RegistrationPlugin implements SparkPlugin {
  static final String URL_CONF = "spark.sparkbridge.register.url";
  static final String TOKEN_ENV = "SPARK_BRIDGE_LAUNCH_TOKEN";
  static final String STARTED_EVENT = "org.apache.spark.sql.connect.service.SparkListenerConnectServiceStarted";

  @Override
  public DriverPlugin driverPlugin() {
    return new Driver();
  }

  @Override
  public ExecutorPlugin executorPlugin() {
    return null;
  }

  static final class Driver implements DriverPlugin {
    @Override
    public Map<String, String> init(SparkContext sc, PluginContext ctx) {
      String url = sc.getConf().get(URL_CONF, "");
      String token = Secrets.get(TOKEN_ENV);
      if (url.isEmpty() || token == null) {
        return Collections.emptyMap();
      }
      sc.addSparkListener(new SparkListener() {
        @Override
        public void onOtherEvent(SparkListenerEvent event) {
          if (!event.getClass().getName().equals(STARTED_EVENT)) {
            return;
          }
          // The event class exists from Spark 4.0 on; reflection keeps the plugin loadable
          // on engines without it.
          try {
            int port = (Integer) event.getClass().getMethod("bindingPort").invoke(event);
            String host = sc.getConf().get("spark.driver.host", "");
            String appId = sc.applicationId();
            // Off the listener bus: the call retries while the bridge is away.
            Thread t = new Thread(() -> register(url, token, host, port, appId), "sparkbridge-register");
            t.setDaemon(true);
            t.start();
          } catch (ReflectiveOperationException e) {
            System.err.println("sparkbridge: cannot read the Connect server's port: " + e);
          }
        }
      });
      return Collections.emptyMap();
    }
  }

  /** Posts the registration, retrying for a minute: the bridge may be restarting. */
  static void register(String url, String token, String host, int port, String appId) {
    String body = "{\"host\":" + quote(host) + ",\"port\":" + port + ",\"app_id\":" + quote(appId) + "}";
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpRequest req = HttpRequest.newBuilder(URI.create(url))
        .timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + token)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
        .build();
    long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
    while (true) {
      try {
        HttpResponse<String> resp = client.send(req, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() / 100 == 2) {
          System.err.println("sparkbridge: registered " + host + ":" + port + " (" + appId + ") with the bridge");
          return;
        }
        // A refusal (unknown or used token) will not change on retry.
        System.err.println("sparkbridge: the bridge refused the registration: " + resp.statusCode() + " " + resp.body());
        return;
      } catch (Exception e) {
        if (System.nanoTime() > deadline) {
          System.err.println("sparkbridge: cannot reach the bridge at " + url + ": " + e);
          return;
        }
        try {
          Thread.sleep(1000);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }
}
