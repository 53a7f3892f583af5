package devstack

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/syncloop/syncloop/internal/config"
)

// PortError says a listen address of the stack cannot be used, and how to
// choose another one.
type PortError struct {
	What string // "Temporal frontend", "Temporal Web UI", ...
	Addr string // the address tried
	Flag string // the flag that sets it (worker -dev)
	Env  string // the environment variable that sets it
	Err  error
}

func (e *PortError) Error() string {
	if errors.Is(e.Err, syscall.EADDRINUSE) {
		return fmt.Sprintf("%s: %s is in use (another `go run ./worker -dev`, or `temporal server start-dev`?); choose another with %s or %s",
			e.What, e.Addr, e.Flag, e.Env)
	}
	return fmt.Sprintf("%s: cannot listen on %s (%v); choose another with %s or %s", e.What, e.Addr, e.Err, e.Flag, e.Env)
}

func (e *PortError) Unwrap() error { return e.Err }

// The flags and variables of `go run ./worker -dev` that set each address;
// PortError names them.
const (
	FlagDataDir      = "-dev-data-dir"
	FlagTemporalPort = "-temporal-port"
	FlagUIPort       = "-ui-port"
	FlagAPIAddr      = "-api-addr"
	FlagDemoAddr     = "-demo-addr"

	EnvDataDir      = config.EnvDevDataDir
	EnvTemporalPort = config.EnvDevTemporalPort
	EnvUIPort       = config.EnvDevUIPort
	EnvAPIAddr      = config.EnvAPIAddr
	EnvDemoAddr     = config.EnvDevDemoAddr
)

// listen opens a TCP listener and explains a failure.
func listen(addr, what, flag, env string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &PortError{What: what, Addr: addr, Flag: flag, Env: env, Err: err}
	}
	return ln, nil
}

// checkFree reports whether addr can be listened on now. For servers that
// bind their own sockets (Temporal, the UI server) this turns an
// "address in use" deep inside them into a clear error up front.
func checkFree(addr, what, flag, env string) error {
	ln, err := listen(addr, what, flag, env)
	if err != nil {
		return err
	}
	return ln.Close()
}

// freePorts returns n distinct free ports on the loopback interface.
func freePorts(n int) ([]int, error) {
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FreePort returns a port that is free on the loopback interface now.
func FreePort() (int, error) {
	p, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// dialable turns a listen address into one a client can dial: a wildcard
// host becomes loopback.
func dialable(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// hostPort joins an IP and a port.
func hostPort(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }
