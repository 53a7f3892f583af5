package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"

	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

// Dial connects to Temporal with the envconfig settings (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, profiles).
func Dial(ctx context.Context, logger *slog.Logger) (client.Client, string, error) {
	return DialWith(ctx, DialOptions{Logger: logger})
}

// DialOptions are a worker's additions to Dial.
type DialOptions struct {
	// Logger receives the SDK's logs; nil means warnings on stderr.
	Logger *slog.Logger
	// Metrics receives the SDK's metrics; nil means none.
	Metrics client.MetricsHandler
	// Compression is SYNCLOOP_TEMPORAL_COMPRESSION (config.Config's
	// TemporalCompression); "" is auto.
	Compression string
}

// DialWith is Dial with a worker's options.
func DialWith(ctx context.Context, o DialOptions) (client.Client, string, error) {
	logger, handler := o.Logger, o.Metrics
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, "", fmt.Errorf("read Temporal client settings (TEMPORAL_* env vars or the config file): %w", err)
	}
	if opts.HostPort == "" {
		opts.HostPort = client.DefaultHostPort
	}
	if opts.Namespace == "" {
		opts.Namespace = client.DefaultNamespace
	}
	opts.ConnectionOptions.GrpcCompression = grpcCompression(o.Compression, opts.HostPort)
	if logger == nil {
		// The SDK's default logger prints every INFO line to stdout; a CLI
		// wants only warnings, on stderr.
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	opts.Logger = sdklog.NewStructuredLogger(logger)
	if handler != nil {
		opts.MetricsHandler = handler
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, "", fmt.Errorf("cannot reach Temporal at %s (namespace %q): %v; start one (`go run ./worker -dev`, or `temporal server start-dev`) or set TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE",
			opts.HostPort, opts.Namespace, err)
	}
	return c, opts.Namespace, nil
}

// grpcCompression is the connection's gRPC compression for a
// SYNCLOOP_TEMPORAL_COMPRESSION setting (config.TemporalCompression):
// auto is none for a frontend on a loopback address and gzip (the SDK's
// default) for any other.
func grpcCompression(mode, hostPort string) client.GrpcCompression {
	switch mode {
	case config.CompressionNone:
		return &client.GrpcCompressionNone{}
	case config.CompressionAuto, "":
		if isLoopback(hostPort) {
			return &client.GrpcCompressionNone{}
		}
	}
	return &client.GrpcCompressionGzip{}
}

// isLoopback reports whether host:port names this machine (localhost or
// a loopback IP).
func isLoopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		host = hostPort
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// OpenOptions are what Open needs from the configuration
// (config.Config in the mains).
type OpenOptions struct {
	// DatabaseURL is PostgreSQL (DATABASE_URL).
	DatabaseURL string
	// TaskQueue is the workers' task queue; "" means the default.
	TaskQueue string
	// SecretKey is SYNCLOOP_SECRET_KEY; "" means none (connections with a
	// token cannot be added).
	SecretKey string
	// Logger receives the SDK's logs; nil means warnings on stderr.
	Logger *slog.Logger
}

// Open connects to PostgreSQL and Temporal (Dial) and returns a ready
// Service. close releases both.
func Open(ctx context.Context, o OpenOptions) (svc *Service, closeFn func(), err error) {
	st, err := store.Open(ctx, o.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	c, ns, err := Dial(ctx, o.Logger)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	svc = &Service{Store: st, Client: c, Namespace: ns, TaskQueue: o.TaskQueue}
	if box, err := secrets.FromKey(o.SecretKey); err == nil {
		svc.Secrets = box
	} else if !errors.Is(err, secrets.ErrNoKey) {
		c.Close()
		st.Close()
		return nil, nil, err
	}
	return svc, func() { c.Close(); st.Close() }, nil
}
