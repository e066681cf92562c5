package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/metastore"
)

// startCatalog attaches launched engines to the shared catalog: it starts the supervised
// metastore (the default), or points engines at an existing one (-metastore-uris), or, with
// -catalog in-memory, leaves them on Spark's in-memory catalog. It returns the supervised
// metastore, if any, for the caller to stop after the engines.
func startCatalog(mode, dataDir, uris, warehouse, jar, pwFile string, jars []string, mcfg metastore.Config, ecfg *engine.Config, log *logrus.Entry) (*metastore.Service, error) {
	switch strings.ToLower(mode) {
	case "in-memory", "inmemory", "memory":
		log.Warn("catalog in-memory: tables live only as long as the engine that created them, and engines do not see each other's tables")
		return nil, nil
	case "hive", "":
	default:
		return nil, fmt.Errorf("-catalog %q: want hive or in-memory", mode)
	}
	if warehouse == "" {
		warehouse = filepath.Join(dataDir, "warehouse")
	}
	if uris != "" {
		ecfg.CatalogConf = metastore.EngineConf(uris, warehouse, mcfg.ClientSocketTimeout)
		log.WithFields(logrus.Fields{"metastore": uris, "warehouse": ecfg.CatalogConf["spark.sql.warehouse.dir"]}).Info("engines use an existing Hive Metastore")
		return nil, nil
	}

	mcfg.SparkHome = ecfg.SparkHome
	mcfg.DataDir = filepath.Join(dataDir, "metastore")
	mcfg.WarehouseDir = warehouse
	mcfg.DriverJars = jars
	mcfg.Jar = jar
	if mcfg.DBURL != "" {
		pw, err := dbPassword(pwFile)
		if err != nil {
			return nil, err
		}
		mcfg.DBPassword = pw
		if metastore.DriverFor(mcfg.DBURL) == "" {
			return nil, fmt.Errorf("-metastore-db-url %q: unknown database; use PostgreSQL, MySQL or MariaDB", mcfg.DBURL)
		}
		if len(jars) == 0 {
			return nil, fmt.Errorf("-metastore-db-url needs the JDBC driver jar: pass -metastore-driver-jar")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), mcfg.StartTimeout)
	defer cancel()
	ms, err := metastore.Start(ctx, mcfg, log)
	if err != nil {
		return nil, err
	}
	ecfg.CatalogConf = ms.EngineConf()
	return ms, nil
}

// defaultJVMJar is sparkbridge-jvm.jar beside the running binary (make puts both in bin/).
func defaultJVMJar() string {
	exe, err := os.Executable()
	if err != nil {
		return "bin/sparkbridge-jvm.jar"
	}
	return filepath.Join(filepath.Dir(exe), "sparkbridge-jvm.jar")
}

// dbPassword reads the metastore database password from a file or the environment; it is
// never a flag value, which every local user could read from the process list.
func dbPassword(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("-metastore-db-password-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return os.Getenv("SPARKBRIDGE_METASTORE_DB_PASSWORD"), nil
}
