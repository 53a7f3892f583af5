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
	"github.com/syncloop/syncloop/internal/config"
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

func serveCmd() *cobra.Command {
	var addr string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the REST control API (JSON; bearer token from SYNCLOOP_API_TOKEN)",
		Long: `serve runs the REST control API: GET /sync/v1/status, POST /sync/v1/restart,
/sync/v1/objects/... (see GET /sync/v1/openapi.json), and GET /healthz.

With SYNCLOOP_API_TOKEN set, clients must send "Authorization: Bearer <token>"
(except on /healthz and /sync/v1/openapi.json). The listen address defaults to
SYNCLOOP_API_ADDR, else 127.0.0.1:8080. Without a token, serve refuses an
address other machines can reach (:8080, 0.0.0.0, a LAN IP) unless
--insecure-no-auth (or SYNCLOOP_API_INSECURE_NO_AUTH=true) says so. SIGINT or
SIGTERM shuts the server down gracefully, letting requests in flight finish.`,
		Example: "SYNCLOOP_API_TOKEN=$(openssl rand -hex 32) syncloop serve --addr :8080",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			// Load checked SYNCLOOP_API_ADDR; the flag is checked here.
			if !c.Flags().Changed("addr") {
				addr = cfg.APIAddr
			} else if err := checkListenAddr("--addr", addr); err != nil {
				return err
			}
			if c.Flags().Changed(config.FlagInsecureNoAuth) {
				cfg.APIInsecureNoAuth = insecure
			}
			return serve(c.Context(), cfg, addr)
		},
	}
	// The help shows the environment's address; a bad one is reported
	// when the command runs.
	shown, _ := config.Load(os.Getenv)
	cmd.Flags().StringVar(&addr, "addr", shown.APIAddr, "listen address, host:port or :port (env "+config.EnvAPIAddr+")")
	cmd.Flags().BoolVar(&insecure, config.FlagInsecureNoAuth, false,
		"serve without "+config.EnvAPIToken+" on a non-loopback address: anyone who can reach it controls the sync (env "+config.EnvAPIInsecureNoAuth+"=true)")
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

func serve(ctx context.Context, cfg config.Config, addr string) error {
	token := cfg.APIToken
	// Refuse an open API before binding or connecting anything.
	if err := config.CheckAPIAuth(addr, token, cfg.APIInsecureNoAuth); err != nil {
		return usageError{err}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Bind first: a taken port fails before anything is opened.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %v; choose another address with --addr or SYNCLOOP_API_ADDR", addr, err)
	}
	defer ln.Close()
	// The Temporal SDK logs every connection at INFO; warnings are enough.
	sdkLogger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc, closeFn, err := control.Open(ctx, openOptions(cfg, sdkLogger))
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
		if config.IsLoopbackListen(addr) {
			logger.Warn("SYNCLOOP_API_TOKEN is not set: the API accepts requests without authentication from this machine (" + ln.Addr().String() + ")")
		} else {
			logger.Warn("SYNCLOOP_API_TOKEN is not set and --insecure-no-auth is: anyone who can reach " + ln.Addr().String() + " controls the sync")
		}
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
