package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncloop/syncloop/api"
	"github.com/syncloop/syncloop/control"
)

// HTTP server limits for `syncloop serve`. WriteTimeout outlasts the API's
// own per-request timeout, so a slow operation still gets its JSON 503.
const (
	serveReadHeaderTimeout = 10 * time.Second
	serveReadTimeout       = 30 * time.Second
	serveWriteTimeout      = api.DefaultRequestTimeout + 15*time.Second
	serveIdleTimeout       = 2 * time.Minute
	serveMaxHeaderBytes    = 64 << 10
	serveShutdownTimeout   = 20 * time.Second
)

func defaultAPIAddr() string {
	if a := os.Getenv("SYNCLOOP_API_ADDR"); a != "" {
		return a
	}
	return ":8080"
}

func serveCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the REST control API (JSON; bearer token from SYNCLOOP_API_TOKEN)",
		Long: `serve runs the REST control API: GET /sync/v1/status, POST /sync/v1/restart,
/sync/v1/objects/... (see GET /sync/v1/openapi.json), and GET /healthz.

With SYNCLOOP_API_TOKEN set, clients must send "Authorization: Bearer <token>"
(except on /healthz and /sync/v1/openapi.json). The listen address defaults to
SYNCLOOP_API_ADDR, else :8080. SIGINT or SIGTERM shuts the server down
gracefully, letting requests in flight finish.`,
		Example: "syncloop serve --addr :8080",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			source := "--addr"
			if !c.Flags().Changed("addr") && os.Getenv("SYNCLOOP_API_ADDR") != "" {
				source = "SYNCLOOP_API_ADDR"
			}
			if err := checkListenAddr(source, addr); err != nil {
				return err
			}
			return serve(c.Context(), addr, os.Getenv("SYNCLOOP_API_TOKEN"))
		},
	}
	cmd.Flags().StringVar(&addr, "addr", defaultAPIAddr(), "listen address, host:port or :port (env SYNCLOOP_API_ADDR)")
	return cmd
}

// checkListenAddr refuses an address net.Listen would refuse for its
// syntax, with a message that names the fix.
func checkListenAddr(source, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = fmt.Errorf("port %q is not a number from 0 to 65535", port)
		}
	}
	if err != nil {
		return usageError{fmt.Errorf("%s %q is not a listen address (%v): use host:port or :port, e.g. :8080 or 127.0.0.1:8080", source, addr, err)}
	}
	return nil
}

func serve(ctx context.Context, addr, token string) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Bind first: a taken port fails before anything is opened.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %v; choose another address with --addr or SYNCLOOP_API_ADDR", addr, err)
	}
	defer ln.Close()
	// The Temporal SDK logs every connection at INFO; warnings are enough.
	sdkLogger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc, closeFn, err := control.Open(ctx, sdkLogger)
	if err != nil {
		return err
	}
	defer closeFn()

	srv := &http.Server{
		Handler:           api.New(svc, api.Options{Token: token, Logger: logger}),
		ReadHeaderTimeout: serveReadHeaderTimeout,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    serveMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if token == "" {
		logger.Warn("SYNCLOOP_API_TOKEN is not set: the API accepts requests without authentication; set it unless only trusted clients can reach " + ln.Addr().String())
	}
	logger.Info("syncloop API listening", "addr", ln.Addr().String(), "auth", token != "", "openapi", "/sync/v1/openapi.json")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: waiting for requests in flight", "timeout", serveShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serveShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shut down the API server: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("API server stopped")
	return nil
}
