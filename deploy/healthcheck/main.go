// Command healthcheck is the container health probe of the syncloop image,
// which is distroless (no shell, curl or wget): it GETs one URL and exits 0
// if the answer is 2xx within the timeout, 1 otherwise.
//
//	syncloop-healthcheck http://127.0.0.1:8080/healthz
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	fs := flag.NewFlagSet("syncloop-healthcheck", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: syncloop-healthcheck [-timeout 5s] <url>\n\nExits 0 if GET <url> answers 2xx, 1 otherwise.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		os.Exit(2)
	}
	if err := probe(fs.Arg(0), *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "unhealthy: "+err.Error())
		os.Exit(1)
	}
}

func probe(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}
