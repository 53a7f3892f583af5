package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"

	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// TaskQueueFromEnv returns SYNCLOOP_TASK_QUEUE or the default.
func TaskQueueFromEnv() string {
	if q := os.Getenv("SYNCLOOP_TASK_QUEUE"); q != "" {
		return q
	}
	return workflows.DefaultTaskQueue
}

// Dial connects to Temporal with the envconfig settings (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, profiles).
func Dial(ctx context.Context, logger *slog.Logger) (client.Client, string, error) {
	return DialWithMetrics(ctx, logger, nil)
}

// DialWithMetrics is Dial with the SDK's metrics sent to handler.
func DialWithMetrics(ctx context.Context, logger *slog.Logger, handler client.MetricsHandler) (client.Client, string, error) {
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

// Open connects to PostgreSQL (DATABASE_URL) and Temporal and returns a
// ready Service. close releases both.
func Open(ctx context.Context, logger *slog.Logger) (svc *Service, closeFn func(), err error) {
	st, err := store.Open(ctx, store.URLFromEnv())
	if err != nil {
		return nil, nil, err
	}
	c, ns, err := Dial(ctx, logger)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	svc = &Service{Store: st, Client: c, Namespace: ns, TaskQueue: TaskQueueFromEnv()}
	if box, err := secrets.FromEnv(); err == nil {
		svc.Secrets = box
	} else if !errors.Is(err, secrets.ErrNoKey) {
		c.Close()
		st.Close()
		return nil, nil, err
	}
	return svc, func() { c.Close(); st.Close() }, nil
}
