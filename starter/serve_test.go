package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/internal/config"
)

// freePort returns a port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestServeDefaultsToLoopback(t *testing.T) {
	t.Setenv(config.EnvAPIAddr, "")
	f := serveCmd().Flags().Lookup("addr")
	if f == nil || f.DefValue != "127.0.0.1:8080" {
		t.Fatalf("serve --addr defaults to %v, want 127.0.0.1:8080", f)
	}
}

func TestServeRefusesNonLoopbackWithoutToken(t *testing.T) {
	t.Setenv(config.EnvAPIToken, "")
	t.Setenv(config.EnvAPIInsecureNoAuth, "")
	port := strconv.Itoa(freePort(t))
	for _, args := range [][]string{
		{"serve", "--addr", ":" + port},
		{"serve", "--addr", "0.0.0.0:" + port},
		{"serve", "--addr", ":" + port, "--insecure-no-auth=false"},
	} {
		r := cli(t, args...)
		if r.err == nil || !strings.Contains(r.msg, "refusing to serve the REST API") ||
			!strings.Contains(r.msg, config.EnvAPIToken) || !strings.Contains(r.msg, "--insecure-no-auth") {
			t.Fatalf("syncloop %s: %s", strings.Join(args, " "), r)
		}
		if r.code != 2 {
			t.Errorf("exit code %d, want 2 (usage)", r.code)
		}
	}
	// The same from the environment.
	t.Setenv(config.EnvAPIAddr, "0.0.0.0:"+port)
	if r := cli(t, "serve"); r.err == nil || !strings.Contains(r.msg, "refusing") {
		t.Fatalf("SYNCLOOP_API_ADDR=0.0.0.0:%s: %s", port, r)
	}
	// Nothing was bound.
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		t.Fatalf("the refused address was bound: %v", err)
	}
	ln.Close()
}

// serveUntilHealthy runs `syncloop args...` until /healthz on port answers,
// then stops it.
func serveUntilHealthy(t *testing.T, port string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRoot()
	root.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve after shutdown: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("syncloop %s exited: %v", strings.Join(args, " "), err)
		default:
		}
		if resp, err := http.Get("http://127.0.0.1:" + port + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("syncloop %s never answered /healthz", strings.Join(args, " "))
}

func TestServeOpensNonLoopbackOnlyWithTokenOrOptIn(t *testing.T) {
	t.Setenv(config.EnvAPIInsecureNoAuth, "")
	t.Setenv(config.EnvAPIToken, "")
	port := strconv.Itoa(freePort(t))
	serveUntilHealthy(t, port, "serve", "--addr", "0.0.0.0:"+port, "--insecure-no-auth")

	port = strconv.Itoa(freePort(t))
	t.Setenv(config.EnvAPIInsecureNoAuth, "true")
	serveUntilHealthy(t, port, "serve", "--addr", ":"+port)

	port = strconv.Itoa(freePort(t))
	t.Setenv(config.EnvAPIInsecureNoAuth, "")
	t.Setenv(config.EnvAPIToken, "s3cret-token")
	serveUntilHealthy(t, port, "serve", "--addr", ":"+port)
}

func TestConnectionsAddRefusesCleartextBaseURL(t *testing.T) {
	t.Setenv("SL_TEST_TOKEN", "00Dsf-secret-token")
	r := cli(t, "connections", "add", "cleartext-sf", "--provider", "salesforce", "--base-url", "http://acme.my.salesforce.com", "--token-env", "SL_TEST_TOKEN")
	if r.err == nil || !strings.Contains(r.msg, "cleartext") || !strings.Contains(r.msg, "--insecure-http") || r.code != 2 {
		t.Fatalf("http:// Salesforce base URL: %s", r)
	}
	if strings.Contains(r.msg, "00Dsf-secret-token") {
		t.Fatalf("the error quotes the token: %s", r.msg)
	}
}
