package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/devstack"
)

// privatePostgres is a PostgreSQL server of the suite's own, initialised
// in a temporary directory and listening on a free loopback port. Its
// restarts break nothing else on the machine, so the short suite (CI)
// restarts PostgreSQL too, not only the full one.
type privatePostgres struct {
	bin  string // the server binaries' directory
	dir  string // owns data/, the socket and the log
	port int
	// asUser runs the server commands as this user: PostgreSQL refuses to
	// run as root, which tests here are.
	asUser string
}

func startPrivatePostgres() (*privatePostgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	p := &privatePostgres{bin: bin}
	if os.Geteuid() == 0 {
		p.asUser = "postgres"
	}
	if p.dir, err = os.MkdirTemp("", "syncloop-chaos-pg-"); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			p.stop()
		}
	}()
	if p.asUser != "" {
		u, err := user.Lookup(p.asUser)
		if err != nil {
			return nil, fmt.Errorf("running as root, the private PostgreSQL needs the %q user (Debian's postgresql package creates it): %v", p.asUser, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(p.dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if p.port, err = devstack.FreePort(); err != nil {
		return nil, err
	}
	if err := p.run("initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", p.port, p.dir)
	if err := p.run("pg_ctl", "-D", p.data(), "-l", p.log(), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		return nil, err
	}
	ok = true
	return p, nil
}

// postgresBin finds the server binaries: Debian keeps them off PATH.
func postgresBin() (string, error) {
	if found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(found) > 0 {
		return filepath.Dir(found[len(found)-1]), nil
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(path), nil
	}
	return "", errors.New("no PostgreSQL server binaries (initdb) found: install Debian's postgresql package; the chaos suite runs a PostgreSQL server of its own")
}

func (p *privatePostgres) data() string { return filepath.Join(p.dir, "data") }

// log is the server's log; pg_ctl must be given it on every start, or the
// server would hold pg_ctl's output pipe open.
func (p *privatePostgres) log() string { return filepath.Join(p.dir, "server.log") }

// url is the server's maintenance database, as the tests' TEST_DATABASE_URL.
func (p *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

func (p *privatePostgres) run(tool string, args ...string) error {
	name, argv := filepath.Join(p.bin, tool), args
	if p.asUser != "" {
		name, argv = "runuser", append([]string{"-u", p.asUser, "--", filepath.Join(p.bin, tool)}, args...)
	}
	out, err := exec.Command(name, argv...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", tool, strings.Join(args, " "), err, out)
	}
	return nil
}

// restart restarts the server the way an operator would: mode "fast"
// ends sessions cleanly, "immediate" is a crash as far as the data files
// go (recovery replays the WAL). It returns once the server accepts
// connections again.
func (p *privatePostgres) restart(mode string) (time.Duration, error) {
	began := time.Now()
	if err := p.run("pg_ctl", "-D", p.data(), "-l", p.log(), "-m", mode, "-w", "-t", "60", "restart"); err != nil {
		return 0, err
	}
	return time.Since(began), nil
}

func (p *privatePostgres) stop() {
	if _, err := os.Stat(filepath.Join(p.data(), "postmaster.pid")); err == nil {
		_ = p.run("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "stop")
	}
	_ = os.RemoveAll(p.dir)
}
