package dev.sparkbridge.metastore;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

import org.apache.hadoop.hive.conf.HiveConf;
import org.apache.hadoop.hive.metastore.HiveMetaStore;
import org.apache.hadoop.hive.metastore.TSetIpAddressProcessor;
import org.apache.hadoop.hive.metastore.api.ThriftHiveMetastore;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.server.TServer;
import org.apache.thrift.server.TThreadPoolServer;
import org.apache.thrift.transport.TServerSocket;

/**
 * A Hive Metastore service bound to one address.
 *
 * <p>Hive 2.3's own {@code HiveMetaStore.main} listens on every interface; the metastore the
 * bridge supervises must be reachable from loopback only, so this main builds the same
 * database-backed handler and serves it on the address it is given. Configuration (the
 * backing database, the warehouse directory) comes from the hive-site.xml on the classpath,
 * which the bridge writes.
 *
 * <p>Usage: {@code MetastoreServer HOST PORT}. It prints {@code sparkbridge-metastore ready}
 * once it accepts connections, and stops cleanly on SIGTERM.
 */
public final class MetastoreServer {
  private MetastoreServer() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: MetastoreServer HOST PORT");
      System.exit(2);
    }
    InetSocketAddress addr = new InetSocketAddress(InetAddress.getByName(args[0]), Integer.parseInt(args[1]));
    HiveConf conf = new HiveConf(HiveMetaStore.HMSHandler.class);
    int minThreads = conf.getIntVar(HiveConf.ConfVars.METASTORESERVERMINTHREADS);
    int maxThreads = conf.getIntVar(HiveConf.ConfVars.METASTORESERVERMAXTHREADS);

    // The handler opens the backing database, creates the schema on first use (the bridge
    // sets datanucleus.schema.autoCreateAll) and the default database.
    ThriftHiveMetastore.Iface handler = HiveMetaStore.newRetryingHMSHandler("sparkbridge metastore", conf, false);
    TServerSocket socket = new TServerSocket(new TServerSocket.ServerSocketTransportArgs().bindAddr(addr).backlog(128));
    TThreadPoolServer.Args serverArgs = new TThreadPoolServer.Args(socket)
        .processor(new TSetIpAddressProcessor<>(handler))
        .protocolFactory(new TBinaryProtocol.Factory())
        .minWorkerThreads(minThreads)
        .maxWorkerThreads(maxThreads)
        .stopTimeoutVal(5)
        .stopTimeoutUnit(TimeUnit.SECONDS);
    TServer server = new TThreadPoolServer(serverArgs);

    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.stop();
      shutdownDerby(conf);
    }, "sparkbridge-metastore-shutdown"));

    System.out.println("sparkbridge-metastore ready " + addr.getAddress().getHostAddress() + ":" + addr.getPort());
    System.out.flush();
    server.serve();
  }

  /** An embedded Derby database is closed cleanly, so that its next start skips recovery. */
  private static void shutdownDerby(HiveConf conf) {
    String url = conf.getVar(HiveConf.ConfVars.METASTORECONNECTURLKEY);
    if (url == null || !url.startsWith("jdbc:derby:")) {
      return;
    }
    try {
      java.sql.DriverManager.getConnection("jdbc:derby:;shutdown=true");
    } catch (java.sql.SQLException expected) {
      // Derby reports a successful system shutdown as an exception (XJ015).
    }
  }
}
