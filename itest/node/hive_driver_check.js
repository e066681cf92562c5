// Runs one query through the bridge with hive-driver and prints the rows as JSON.
const hive = require('hive-driver');
const { TCLIService, TCLIService_types } = hive.thrift;
const [host, port, mode] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const client = new hive.HiveClient(TCLIService, TCLIService_types);
const utils = new hive.HiveUtils(TCLIService_types);
const conn = mode === 'http' ? new hive.connections.HttpConnection() : new hive.connections.TcpConnection();
const auth = mode === 'http'
  ? new hive.auth.PlainHttpAuthentication({ username: 'alice', password: 'x' })
  : new hive.auth.PlainTcpAuthentication({ username: 'alice', password: 'x' });
const options = mode === 'http' ? { host, port, options: { path: '/cliservice' } } : { host, port };
client.connect(options, conn, auth).then(async (c) => {
  const session = await c.openSession({ client_protocol: TCLIService_types.TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V10 });
  const op = await session.executeStatement("SELECT id, CAST(id AS STRING) AS s, id % 2 = 0 AS even, CAST(NULL AS INT) AS n FROM range(3)", { runAsync: true });
  await utils.waitUntilReady(op, false, () => {});
  await utils.fetchAll(op);
  console.log(JSON.stringify(utils.getResult(op).getValue()));
  await op.close();
  await session.close();
  await c.close();
}).catch((e) => { console.error('hive-driver error:', e); process.exit(1); });
