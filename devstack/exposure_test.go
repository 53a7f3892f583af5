package devstack_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/devstack"
	"github.com/syncloop/syncloop/internal/config"
)

// `-dev` serves the REST API and /metrics on loopback unless told
// otherwise, and refuses an open API elsewhere without a token.
func TestDevDefaultsToLoopbackAndRefusesOpenAPI(t *testing.T) {
	cfg := devstack.FromConfig(config.Default())
	if cfg.APIAddr != "127.0.0.1:8080" || cfg.MetricsAddr != "127.0.0.1:9090" {
		t.Fatalf("-dev defaults: API %q, metrics %q; want 127.0.0.1:8080 and 127.0.0.1:9090", cfg.APIAddr, cfg.MetricsAddr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unreachable := "postgres://postgres@127.0.0.1:1/nothing?sslmode=disable"
	for _, tc := range []struct {
		name    string
		change  func(*devstack.Config)
		refused bool
	}{
		{"every interface, no token", func(c *devstack.Config) { c.APIAddr = ":0" }, true},
		{"0.0.0.0, no token", func(c *devstack.Config) { c.APIAddr = "0.0.0.0:0" }, true},
		// These pass the check and fail later, at PostgreSQL.
		{"with a token", func(c *devstack.Config) { c.APIAddr, c.APIToken = "0.0.0.0:0", "tok" }, false},
		{"with the opt-in", func(c *devstack.Config) { c.APIAddr, c.APIInsecureNoAuth = "0.0.0.0:0", true }, false},
		{"loopback", func(c *devstack.Config) { c.APIAddr = "127.0.0.1:0" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := devstack.Config{DataDir: t.TempDir(), DatabaseURL: unreachable, Logger: slog.New(slog.NewTextHandler(newTestWriter(t), nil))}
			tc.change(&cfg)
			s, err := devstack.Start(ctx, cfg)
			if err == nil {
				_ = s.Stop()
				t.Fatal("Start succeeded against an unreachable database")
			}
			refused := strings.Contains(err.Error(), "refusing to serve the REST API")
			if refused != tc.refused {
				t.Fatalf("refused %v, want %v: %v", refused, tc.refused, err)
			}
			if refused && (!strings.Contains(err.Error(), config.EnvAPIToken) || !strings.Contains(err.Error(), "--insecure-no-auth")) {
				t.Errorf("the refusal does not name the fixes: %v", err)
			}
			if _, statErr := os.Stat(filepath.Join(cfg.DataDir, "temporal.db")); statErr == nil {
				t.Error("a refused start created temporal.db")
			}
		})
	}
}
