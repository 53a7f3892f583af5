package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"

	"github.com/syncloop/syncloop/internal/tserver"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/syncloop/syncloop/control"
)

// clusterName names the single local cluster. It is persisted with the
// namespaces, so it must never change between runs on one data directory.
const clusterName = "active"

// temporalDBFile is the SQLite file in the data directory.
const temporalDBFile = "temporal.db"

// temporalServer is an embedded single-process Temporal server (frontend,
// history, matching and worker services) persisted in one SQLite file.
type temporalServer struct {
	srv      temporal.Server
	logger   serverLogger
	hostPort string
	dbPath   string
}

type temporalOptions struct {
	dataDir   string
	ip        string // frontend bind address
	port      int    // frontend gRPC port
	namespace string
	logger    *slog.Logger
	logLevel  slog.Level
}

// sqliteConfig is the persistence config for the database file at path.
// One connection in WAL mode: SQLite has a single writer anyway, and WAL
// keeps readers (visibility queries from the UI) off the writer's back.
func sqliteConfig(path string) *config.SQL {
	cfg := plainSQLiteConfig(path)
	cfg.ConnectAttributes["journal_mode"] = "wal"
	// NORMAL is durable across process crashes in WAL mode; only a power
	// loss can lose the last transactions: fine for a dev stack.
	cfg.ConnectAttributes["synchronous"] = "1"
	return cfg
}

// plainSQLiteConfig uses the default rollback journal: everything is in
// the one file once the connection is closed.
func plainSQLiteConfig(path string) *config.SQL {
	return &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		DatabaseName:      path,
		ConnectAttributes: map[string]string{"mode": "rwc", "busy_timeout": "10000"},
	}
}

// prepareTemporalDB creates the SQLite file with Temporal's schema if it
// does not exist, and registers the namespace (with syncloop's search
// attributes) unless it already exists. Both steps are idempotent. The
// schema is written to a temporary file first and renamed into place, so
// an interrupted first start never leaves a half-initialised database.
func prepareTemporalDB(dbPath, namespace string) error {
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		tmp := dbPath + ".init"
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(tmp + suffix)
		}
		if err := sqliteschema.SetupSchema(plainSQLiteConfig(tmp)); err != nil {
			return fmt.Errorf("create the Temporal schema in %s: %w", tmp, err)
		}
		if err := os.Rename(tmp, dbPath); err != nil {
			return fmt.Errorf("move the new Temporal database into place: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("Temporal database %s: %w", dbPath, err)
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, namespace, false, control.SearchAttributes)
	if err != nil {
		return fmt.Errorf("namespace %q: %w", namespace, err)
	}
	// Loops run for months; keep closed runs (continued-as-new ones, the
	// watcher's runs) for a week so their histories stay readable in the UI.
	ns.Detail.Config.Retention = durationpb.New(7 * 24 * time.Hour)
	if err := sqliteschema.CreateNamespaces(sqliteConfig(dbPath), ns); err != nil {
		return fmt.Errorf("register namespace %q in %s: %w", namespace, dbPath, err)
	}
	return nil
}

// startTemporal prepares the database, starts the server and waits until
// its frontend answers and the namespace is usable.
func startTemporal(ctx context.Context, o temporalOptions) (*temporalServer, error) {
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create the data directory %s: %w", o.dataDir, err)
	}
	dbPath := filepath.Join(o.dataDir, temporalDBFile)
	if err := prepareTemporalDB(dbPath, o.namespace); err != nil {
		return nil, err
	}
	cfg, hosts, err := serverConfig(dbPath, o.ip, o.port)
	if err != nil {
		return nil, err
	}
	logger := newServerLogger(o.logger, o.logLevel)
	srv, err := tserver.New(cfg, hosts, logger)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start the Temporal server: %w", err)
	}
	ts := &temporalServer{srv: srv, logger: logger, hostPort: cfg.PublicClient.HostPort, dbPath: dbPath}
	quiet := slog.New(minLevel{min: o.logLevel, h: o.logger.Handler()})
	if err := ts.waitReady(ctx, o.namespace, quiet); err != nil {
		_ = ts.stop(30 * time.Second)
		return nil, err
	}
	return ts, nil
}

// serverConfig is the static configuration of the single-process server:
// SQLite for persistence and visibility, one history shard, the frontend
// on ip:port and the other services on free loopback ports.
func serverConfig(dbPath, ip string, port int) (*config.Config, map[primitives.ServiceName]static.Hosts, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, nil, err
	}
	frontend := net.JoinHostPort(ip, strconv.Itoa(port))
	// Membership is static: every service runs in this process at a known
	// address. Ringpop would instead bootstrap from the hosts recorded in
	// the database, and after a quick restart wait for the previous run's
	// dead ones until they age out.
	hosts := map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(frontend),
		primitives.HistoryService:  static.SingleLocalHost(hostPort("127.0.0.1", ports[0])),
		primitives.MatchingService: static.SingleLocalHost(hostPort("127.0.0.1", ports[1])),
		primitives.WorkerService:   static.SingleLocalHost(hostPort("127.0.0.1", ports[2])),
	}
	service := func(grpcPort int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpcPort, BindOnIP: "127.0.0.1"}}
	}
	front := service(port)
	front.RPC.BindOnIP = ip
	sql := sqliteConfig(dbPath)
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: "127.0.0.1"},
			// No Metrics config: the server uses a no-op metrics handler
			// and opens no Prometheus port. PProf port 0: no pprof server.
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sql}},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			string(primitives.FrontendService): front,
			string(primitives.HistoryService):  service(ports[0]),
			string(primitives.MatchingService): service(ports[1]),
			string(primitives.WorkerService):   service(ports[2]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		// The server's own internal client (the worker service: schedules,
		// batch operations) dials the frontend here.
		PublicClient: config.PublicClient{HostPort: frontend},
	}, hosts, nil
}

// waitReady dials the frontend until it answers and the namespace can be
// described: Start returns before every service has joined the ring.
func (t *temporalServer) waitReady(ctx context.Context, namespace string, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c, err := dialTemporal(ctx, t.hostPort, namespace, logger, nil)
	if err != nil {
		return fmt.Errorf("the embedded Temporal server did not come up at %s: %w", t.hostPort, err)
	}
	defer c.Close()
	var last error
	for {
		_, last = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the embedded Temporal server at %s does not serve namespace %q: %v", t.hostPort, namespace, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// dialTemporal connects a client, retrying until ctx ends.
func dialTemporal(ctx context.Context, hostPort, namespace string, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	var last error
	for {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := client.DialContext(dctx, client.Options{
			HostPort: hostPort, Namespace: namespace, Logger: sdklog.NewStructuredLogger(logger),
			MetricsHandler: metrics,
			// The embedded server runs in this process: gzip would only cost
			// CPU at both ends (SYNCLOOP_TEMPORAL_COMPRESSION's auto).
			ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}},
		})
		cancel()
		if err == nil {
			return c, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, last
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop stops the server, giving up after timeout (the process is
// probably exiting anyway).
func (t *temporalServer) stop(timeout time.Duration) error {
	t.logger.silence()
	done := make(chan error, 1)
	go func() { done <- t.srv.Stop() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("stop the Temporal server: %w", err)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("the Temporal server did not stop within %s", timeout)
	}
}
