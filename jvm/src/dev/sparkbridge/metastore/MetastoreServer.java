package dev.sparkbridge.metastore;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URL;
import java.util.Enumeration;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import javax.jdo.PersistenceManager;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;

import org.apache.hadoop.hive.conf.HiveConf;
import org.apache.hadoop.hive.metastore.HiveMetaStore;
import org.apache.hadoop.hive.metastore.ObjectStore;
import org.apache.hadoop.hive.metastore.TSetIpAddressProcessor;
import org.apache.hadoop.hive.metastore.api.ThriftHiveMetastore;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.server.TServer;
import org.apache.thrift.server.TThreadPoolServer;
import org.apache.thrift.transport.TServerSocket;
import org.datanucleus.api.jdo.JDOPersistenceManagerFactory;
import org.datanucleus.store.schema.SchemaAwareStoreManager;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

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

    createSchema(conf);
    // The handler opens the backing database and creates the default database.
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

  /**
   * Creates every metastore table up front.
   *
   * <p>With datanucleus.schema.autoCreateAll alone, DataNucleus creates a table the first time
   * its class is used, on a second connection, in the middle of the request's transaction. On
   * PostgreSQL that deadlocks: the first CREATE TABLE adds a foreign key to TBLS while the
   * request's own transaction holds a lock on TBLS. Creating the whole schema once, before any
   * request, avoids it; on a database that already has the schema it changes nothing.
   */
  private static void createSchema(HiveConf conf) throws Exception {
    ObjectStore store = new ObjectStore();
    store.setConf(conf);
    try {
      PersistenceManager pm = store.getPersistenceManager();
      JDOPersistenceManagerFactory pmf = (JDOPersistenceManagerFactory) pm.getPersistenceManagerFactory();
      SchemaAwareStoreManager sm = (SchemaAwareStoreManager) pmf.getNucleusContext().getStoreManager();
      sm.createSchemaForClasses(modelClasses(), new Properties());
    } finally {
      store.shutdown();
    }
  }

  /** The persistent classes that Hive's package.jdo maps. */
  private static Set<String> modelClasses() throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
    f.setValidating(false);
    DocumentBuilder db = f.newDocumentBuilder();
    Set<String> out = new TreeSet<>();
    Enumeration<URL> urls = ObjectStore.class.getClassLoader().getResources("package.jdo");
    while (urls.hasMoreElements()) {
      try (InputStream in = urls.nextElement().openStream()) {
        NodeList pkgs = db.parse(in).getElementsByTagName("package");
        for (int i = 0; i < pkgs.getLength(); i++) {
          Element pkg = (Element) pkgs.item(i);
          String name = pkg.getAttribute("name");
          if (!name.equals("org.apache.hadoop.hive.metastore.model")) {
            continue;
          }
          NodeList classes = pkg.getElementsByTagName("class");
          for (int j = 0; j < classes.getLength(); j++) {
            out.add(name + "." + ((Element) classes.item(j)).getAttribute("name"));
          }
        }
      }
    }
    if (out.isEmpty()) {
      throw new IllegalStateException("no Hive metastore model classes in package.jdo on the classpath");
    }
    return out;
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
