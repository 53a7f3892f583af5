package devstack

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
)

// webUI is the Temporal Web UI (its Go server with the embedded assets),
// talking gRPC to the embedded frontend.
type webUI struct {
	srv  *uiserver.Server
	url  string
	done chan struct{}
}

// startUI serves the UI on ip:port. The UI server binds its own socket and
// exits the process if it cannot, so the port is checked first.
func startUI(ctx context.Context, ip string, port int, temporalHostPort, namespace string) (*webUI, error) {
	addr := hostPort(ip, port)
	if err := checkFree(addr, "Temporal Web UI", FlagUIPort, EnvUIPort); err != nil {
		return nil, err
	}
	origins := []string{
		"http://localhost:" + strconv.Itoa(port),
		"http://127.0.0.1:" + strconv.Itoa(port),
	}
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: temporalHostPort,
		Host:                ip,
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		// Plain HTTP on localhost: the CSRF cookie must not be marked
		// Secure, or browsers drop it and every write action fails.
		CORS: uiconfig.CORS{AllowOrigins: origins, CookieInsecure: true},
		// No calls to the internet, no request log.
		NotifyOnNewVersion: false,
		DisableNewsFetch:   true,
		HideLogs:           true,
		Distribution:       "syncloop-dev",
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("Temporal Web UI config: %w", err)
	}
	ui := &webUI{
		srv:  uiserver.NewServer(server_options.WithConfigProvider(cfg)),
		url:  "http://localhost:" + strconv.Itoa(port),
		done: make(chan struct{}),
	}
	go func() {
		defer close(ui.done)
		_ = ui.srv.Start() // returns when Stop closes it
	}()
	if err := waitHTTP(ctx, "http://"+addr+"/healthz", 15*time.Second); err != nil {
		ui.stop(5 * time.Second)
		return nil, fmt.Errorf("Temporal Web UI did not start on %s: %w", addr, err)
	}
	return ui, nil
}

func (u *webUI) stop(timeout time.Duration) {
	u.srv.Stop()
	select {
	case <-u.done:
	case <-time.After(timeout):
	}
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return last
		case <-time.After(100 * time.Millisecond):
		}
	}
}
