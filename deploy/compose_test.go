package deploy

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"go.temporal.io/api/enums/v1"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/workflows"
)

// Paths, relative to this package's directory (the tests' working directory).
const (
	repoRoot    = ".."
	composeFile = "../docker-compose.yml"
	dockerfile  = "../Dockerfile"
	dockerIgn   = "../.dockerignore"
	envExample  = ".env.example"
	readme      = "../README.md"
)

// requiredServices must exist in docker-compose.yml: the README and the
// code's hints ("docker compose up -d postgres") name them. Services named
// in `docker compose …` commands in the README and the sources are checked
// too (TestComposeServicesNamedInDocsExist).
var requiredServices = []string{"postgres", "temporal-schema", "temporal", "temporal-init", "temporal-ui", "democrm", "worker", "api"}

// imageServices run the image built from the Dockerfile.
var imageServices = []string{"democrm", "worker", "api"}

// healthChecked services must have a health check.
var healthChecked = []string{"postgres", "temporal", "temporal-ui", "democrm", "worker", "api"}

// devDefaults are the only secret values docker-compose.yml may default
// to: development defaults that deploy/.env.example documents as such.
var devDefaults = map[string]string{"POSTGRES_PASSWORD": "syncloop-dev"}

// loadProject loads docker-compose.yml the way `docker compose` does, with
// deploy/.env.example as its .env and extra KEY=value variables winning over
// it. The test process's own environment is not used, so a developer's
// TEMPORAL_ADDRESS or DATABASE_URL cannot change the result.
func loadProject(t *testing.T, extra ...string) *types.Project {
	t.Helper()
	opts := projectOptions(t, extra, true)
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load %s with %s: %v", composeFile, envExample, err)
	}
	return p
}

func projectOptions(t *testing.T, extra []string, interpolate bool) *cli.ProjectOptions {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	envFile, err := filepath.Abs(envExample)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(extra), // before the env file, whose values do not override these
		cli.WithEnvFiles(envFile),
		cli.WithDotEnv,
		cli.WithInterpolation(interpolate),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return s
}

// env returns a service's environment variable and whether it is set.
func env(s types.ServiceConfig, key string) (string, bool) {
	v, ok := s.Environment[key]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestComposeParses(t *testing.T) {
	p := loadProject(t)
	if p.Name != "syncloop" {
		t.Errorf("project name %q, want syncloop (set by the top-level name: key)", p.Name)
	}
	for _, name := range requiredServices {
		service(t, p, name)
	}
	for name, s := range p.Services {
		if s.Build == nil {
			_, tag, ok := strings.Cut(s.Image, ":")
			if !ok || tag == "" || tag == "latest" {
				t.Errorf("service %s: image %q: pin a version tag", name, s.Image)
			}
		}
	}
}

var (
	composeCommand = regexp.MustCompile("docker[ -]compose((?:[ \t]+[^ \t\n`\"'\\\\]+)+)")
	serviceName    = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	inlineCode     = regexp.MustCompile("`([^`\n]+)`")
)

// TestComposeServicesNamedInDocsExist checks that every service named in a
// `docker compose <verb> … <service>` command in the README (code only) and
// in the sources' messages exists.
func TestComposeServicesNamedInDocsExist(t *testing.T) {
	p := loadProject(t)
	var texts []string
	texts = append(texts, markdownCode(readFile(t, readme))...)
	for _, pattern := range []string{"../*/*.go", "../*/*/*.go", "../scripts/*.sh", "../Makefile"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				texts = append(texts, readFile(t, f))
			}
		}
	}
	seen := map[string]bool{}
	for _, text := range texts {
		for _, m := range composeCommand.FindAllStringSubmatch(text, -1) {
			if name := serviceArg(strings.Fields(m[1])); name != "" {
				seen[name] = true
			}
		}
	}
	if !seen["postgres"] {
		t.Errorf("found no `docker compose … postgres` in the README or the sources; the scan is broken (seen %v)", seen)
	}
	for name := range seen {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("the README or a source file runs `docker compose … %s`, but docker-compose.yml has no service %q", name, name)
		}
	}
}

// serviceArg returns the service a `docker compose` argument list names,
// or "" if its verb takes none or it names none.
func serviceArg(args []string) string {
	// Flags that take a value, before the verb (compose's) and after it.
	globalValue := map[string]bool{"-f": true, "--file": true, "-p": true, "--project-name": true,
		"--project-directory": true, "--env-file": true, "--profile": true}
	verbValue := map[string]bool{"-e": true, "--env": true, "-u": true, "--user": true, "-w": true, "--workdir": true,
		"--name": true, "--entrypoint": true, "-l": true, "--label": true, "--index": true, "-t": true, "--timeout": true}
	verbs := map[string]bool{"run": true, "exec": true, "up": true, "start": true, "stop": true, "restart": true,
		"logs": true, "build": true, "pull": true, "rm": true, "kill": true}
	verb := ""
	for i := 0; i < len(args); i++ {
		a := strings.TrimRight(args[i], ".,;:)")
		switch {
		case strings.HasPrefix(a, "-"):
			if (verb == "" && globalValue[a]) || (verb != "" && verbValue[a]) {
				i++
			}
		case verb == "":
			if !verbs[a] {
				return ""
			}
			verb = a
		case serviceName.MatchString(a):
			return a
		default:
			return ""
		}
	}
	return ""
}

// markdownCode returns the fenced code blocks and inline code spans of md.
func markdownCode(md string) []string {
	var out []string
	parts := strings.Split(md, "```")
	for i, part := range parts {
		if i%2 == 1 {
			out = append(out, part)
			continue
		}
		for _, m := range inlineCode.FindAllStringSubmatch(part, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

var envLiteral = regexp.MustCompile(`"((?:SYNCLOOP|TEMPORAL|DATABASE)_[A-Z0-9_]+)"`)

// envNamesIn returns the environment variable names that the non-test Go
// files matching the patterns spell as a string literal ("DATABASE_URL").
func envNamesIn(t *testing.T, skip []string, patterns ...string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, pattern := range patterns {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files match %s", pattern)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || slices.Contains(skip, filepath.Base(f)) {
				continue
			}
			for _, m := range envLiteral.FindAllStringSubmatch(readFile(t, f), -1) {
				names[m[1]] = true
			}
		}
	}
	return names
}

// TestComposeSetsTheEnvironmentTheBinariesRead finds the variables the
// worker and the CLI read in their sources and checks that the worker and
// api services set each of them, to consistent values.
func TestComposeSetsTheEnvironmentTheBinariesRead(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secretKey := base64.StdEncoding.EncodeToString(key)
	if _, err := secrets.ParseKey(secretKey); err != nil {
		t.Fatal(err)
	}
	p := loadProject(t, "SYNCLOOP_SECRET_KEY="+secretKey)
	worker, api := service(t, p, "worker"), service(t, p, "api")

	// internal/config is the one place the binaries read the environment
	// (no package below the mains calls os.Getenv): every name it spells
	// must be in config.Variables(), which says who reads it.
	declared := map[string]config.Variable{}
	for _, v := range config.Variables() {
		declared[v.Name] = v
	}
	for name := range envNamesIn(t, nil, "../internal/config/*.go") {
		if _, ok := declared[name]; !ok && name != "TEST_DATABASE_URL" {
			t.Errorf("internal/config reads %s but config.Variables() does not list it", name)
		}
	}
	shared, workerVars, cliVars := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for name, v := range declared {
		w, c := slices.Contains(v.Readers, config.Worker), slices.Contains(v.Readers, config.CLI) || slices.Contains(v.Readers, config.Serve)
		if w && c {
			shared[name] = true
		}
		if w {
			workerVars[name] = true
		}
		if c {
			cliVars[name] = true
		}
	}
	// envconfig reads these (and TEMPORAL_API_KEY / TEMPORAL_TLS_*; see below).
	shared["TEMPORAL_ADDRESS"], shared["TEMPORAL_NAMESPACE"] = true, true
	for _, must := range []string{"DATABASE_URL", "SYNCLOOP_TASK_QUEUE", "SYNCLOOP_SECRET_KEY"} {
		if !shared[must] {
			t.Fatalf("the source scan did not find %s; fix envNamesIn", must)
		}
	}
	for _, must := range []string{"SYNCLOOP_DEMO_URL", "SYNCLOOP_WATCHER_INTERVAL", "SYNCLOOP_WEBHOOK_URL"} {
		if !workerVars[must] {
			t.Fatalf("the source scan did not find %s in worker/; fix envNamesIn", must)
		}
	}
	check := func(s types.ServiceConfig, names map[string]bool, who string) {
		for name := range names {
			if _, ok := env(s, name); !ok {
				t.Errorf("service %s does not set %s, which the %s reads: add it to docker-compose.yml (x-syncloop-env if both read it) and deploy/.env.example", s.Name, name, who)
			}
		}
	}
	check(worker, shared, "worker (and the CLI)")
	check(api, shared, "CLI (and the worker)")
	check(worker, workerVars, "worker")
	check(api, cliVars, "CLI")

	// Both sides see the same database, Temporal namespace, task queue and key.
	for name := range shared {
		w, _ := env(worker, name)
		a, _ := env(api, name)
		if w != a {
			t.Errorf("%s differs: worker %q, api %q", name, w, a)
		}
	}
	if v, _ := env(worker, "SYNCLOOP_SECRET_KEY"); v != secretKey {
		t.Errorf("SYNCLOOP_SECRET_KEY from the environment did not reach the worker: got %q", v)
	}
	if v, _ := env(worker, "SYNCLOOP_TASK_QUEUE"); v != workflows.DefaultTaskQueue {
		t.Errorf("SYNCLOOP_TASK_QUEUE is %q with the example env, want the default %q", v, workflows.DefaultTaskQueue)
	}

	// TEMPORAL_ADDRESS is this stack's server, in plaintext: any
	// TEMPORAL_TLS_* variable, even empty, would turn TLS on in envconfig.
	temporal := service(t, p, "temporal")
	if v, _ := env(worker, "TEMPORAL_ADDRESS"); v != "temporal:7233" || !hasTarget(temporal, 7233) {
		t.Errorf("TEMPORAL_ADDRESS=%q, want temporal:7233 (the temporal service's frontend)", v)
	}
	for _, s := range []types.ServiceConfig{worker, api} {
		if v, _ := env(s, "TEMPORAL_TLS"); v != "false" {
			t.Errorf("service %s: TEMPORAL_TLS=%q, want \"false\" for the stack's plaintext server", s.Name, v)
		}
		for name := range s.Environment {
			if strings.HasPrefix(name, "TEMPORAL_TLS_") || name == "TEMPORAL_API_KEY" {
				t.Errorf("service %s sets %s: it would turn TLS on against the stack's plaintext server (see deploy/.env.example for external clusters)", s.Name, name)
			}
		}
	}

	// One namespace everywhere: the one temporal-init registers.
	ns, _ := env(worker, "TEMPORAL_NAMESPACE")
	if ns == "" {
		t.Error("TEMPORAL_NAMESPACE is empty")
	}
	if v, _ := env(service(t, p, "temporal-init"), "TEMPORAL_NAMESPACE"); v != ns {
		t.Errorf("temporal-init registers namespace %q, the worker uses %q", v, ns)
	}
	if v, _ := env(service(t, p, "temporal-ui"), "TEMPORAL_DEFAULT_NAMESPACE"); v != ns {
		t.Errorf("temporal-ui opens namespace %q, the worker uses %q", v, ns)
	}

	// DATABASE_URL: the postgres service, its role, password and database.
	pg := service(t, p, "postgres")
	dbURL, _ := env(worker, "DATABASE_URL")
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("DATABASE_URL %q: %v", dbURL, err)
	}
	pw, _ := u.User.Password()
	user, _ := env(pg, "POSTGRES_USER")
	password, _ := env(pg, "POSTGRES_PASSWORD")
	db, _ := env(pg, "POSTGRES_DB")
	if u.Hostname() != "postgres" || u.Port() != "5432" || !hasTarget(pg, 5432) {
		t.Errorf("DATABASE_URL host %q, want postgres:5432", u.Host)
	}
	if u.User.Username() != user || pw != password || strings.TrimPrefix(u.Path, "/") != db {
		t.Errorf("DATABASE_URL %q does not match the postgres service (user %q, database %q, and its password)", u.Redacted(), user, db)
	}
	if v, _ := env(service(t, p, "temporal"), "POSTGRES_PWD"); v != password {
		t.Error("temporal's POSTGRES_PWD differs from postgres's POSTGRES_PASSWORD")
	}
	if v, _ := env(service(t, p, "temporal-schema"), "SQL_PASSWORD"); v != password {
		t.Error("temporal-schema's SQL_PASSWORD differs from postgres's POSTGRES_PASSWORD")
	}

	// SYNCLOOP_DEMO_URL: the democrm service on the port it listens on.
	demoURL, _ := env(worker, "SYNCLOOP_DEMO_URL")
	du, err := url.Parse(demoURL)
	if err != nil || du.Hostname() != "democrm" {
		t.Fatalf("SYNCLOOP_DEMO_URL=%q, want http://democrm:<port>", demoURL)
	}
	democrm := service(t, p, "democrm")
	if addr := flagValue(democrm.Command, "-addr"); !strings.HasSuffix(addr, ":"+du.Port()) || !hasTarget(democrm, portNumber(du.Port())) {
		t.Errorf("SYNCLOOP_DEMO_URL port %s: democrm listens on %q and publishes %v", du.Port(), addr, democrm.Ports)
	}

	// The API and the worker's metrics listen where their port mappings
	// (and health checks, TestComposeHealthchecks) point.
	for _, l := range []struct {
		s   types.ServiceConfig
		env string
	}{{api, "SYNCLOOP_API_ADDR"}, {worker, "SYNCLOOP_METRICS_ADDR"}} {
		addr, _ := env(l.s, l.env)
		_, port, err := net.SplitHostPort(addr)
		if err != nil || !hasTarget(l.s, portNumber(port)) {
			t.Errorf("%s=%q does not match the %s's published ports %v", l.env, addr, l.s.Name, l.s.Ports)
		}
	}
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func portNumber(s string) uint32 {
	var n uint32
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + uint32(r-'0')
	}
	return n
}

func hasTarget(s types.ServiceConfig, port uint32) bool {
	return slices.ContainsFunc(s.Ports, func(p types.ServicePortConfig) bool { return p.Target == port })
}

func hasHealthcheck(s types.ServiceConfig) bool {
	return s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 1 && s.HealthCheck.Test[0] != "NONE"
}

func TestComposeHealthchecks(t *testing.T) {
	p := loadProject(t)
	for _, name := range healthChecked {
		s := service(t, p, name)
		if !hasHealthcheck(s) {
			t.Errorf("service %s has no health check", name)
			continue
		}
		hc := s.HealthCheck
		if hc.Interval == nil || hc.Timeout == nil || *hc.Timeout > *hc.Interval {
			t.Errorf("service %s: set a health check interval and a timeout no longer than it", name)
		}
		// syncloop's own probes hit the port the service publishes.
		if slices.Contains(imageServices, name) {
			for _, arg := range hc.Test {
				if u, err := url.Parse(arg); err == nil && u.Scheme == "http" && !hasTarget(s, portNumber(u.Port())) {
					t.Errorf("service %s: health check %s probes a port the service does not publish", name, arg)
				}
			}
		}
	}
	api := service(t, p, "api")
	if !slices.ContainsFunc(api.HealthCheck.Test, func(a string) bool { return strings.HasSuffix(a, "/healthz") }) {
		t.Errorf("api health check %v does not probe GET /healthz", api.HealthCheck.Test)
	}
}

// TestComposeDependsOn checks every depends_on condition against what the
// dependency offers: healthy if it has a health check, completed for the
// one-shot setup jobs, started otherwise; and that the syncloop services
// wait for what they need.
func TestComposeDependsOn(t *testing.T) {
	p := loadProject(t)
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			ds, err := p.GetService(dep)
			if err != nil {
				t.Errorf("service %s depends on unknown service %s", name, dep)
				continue
			}
			want := types.ServiceConditionStarted
			switch {
			case hasHealthcheck(ds):
				want = types.ServiceConditionHealthy
			case ds.Restart == types.RestartPolicyNo:
				want = types.ServiceConditionCompletedSuccessfully
			}
			if d.Condition != want {
				t.Errorf("service %s: depends_on %s with condition %s, want %s", name, dep, d.Condition, want)
			}
		}
	}
	needs := map[string][]string{
		"temporal-schema": {"postgres"},
		"temporal":        {"postgres", "temporal-schema"},
		"temporal-init":   {"temporal"},
		"temporal-ui":     {"temporal"},
		"worker":          {"postgres", "temporal", "temporal-init", "democrm"},
		"api":             {"postgres", "temporal", "temporal-init"},
	}
	for name, deps := range needs {
		s := service(t, p, name)
		for _, dep := range deps {
			if _, ok := s.DependsOn[dep]; !ok {
				t.Errorf("service %s must depend on %s", name, dep)
			}
		}
	}
	for _, name := range []string{"temporal-schema", "temporal-init"} {
		if s := service(t, p, name); s.Restart != types.RestartPolicyNo {
			t.Errorf("one-shot service %s: restart %q, want \"no\"", name, s.Restart)
		}
	}
}

func TestComposePublishedPortsDoNotClash(t *testing.T) {
	p := loadProject(t)
	used := map[string]string{}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.Published == "" {
				continue
			}
			if port.HostIP != "127.0.0.1" {
				t.Errorf("service %s publishes %s on %q: bind it to 127.0.0.1 (the stack has unauthenticated endpoints)", name, port.Published, port.HostIP)
			}
			key := port.Published + "/" + port.Protocol
			if other, ok := used[key]; ok {
				t.Errorf("host port %s is published by both %s and %s", key, other, name)
			}
			used[key] = name
		}
	}
	if len(used) < 6 {
		t.Errorf("only %d published ports (%v); expected postgres, temporal, temporal-ui, democrm, worker metrics and api", len(used), used)
	}
	// Moving one port must not make it clash either.
	p = loadProject(t, "SYNCLOOP_API_PORT=18080")
	if api := service(t, p, "api"); len(api.Ports) == 0 || api.Ports[0].Published != "18080" {
		t.Errorf("SYNCLOOP_API_PORT does not move the api's host port: %v", api.Ports)
	}
}

// TestComposeMountsExist checks that bind-mounted files exist and that the
// scripts the one-shot services run are in what they mount.
func TestComposeMountsExist(t *testing.T) {
	p := loadProject(t)
	root, _ := filepath.Abs(repoRoot)
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if !strings.HasPrefix(v.Source, root) {
				t.Errorf("service %s bind-mounts %s, outside the repository", name, v.Source)
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("service %s bind-mounts %s: %v", name, v.Source, err)
			}
			for _, arg := range append(slices.Clone(s.Entrypoint), s.Command...) {
				if rest, ok := strings.CutPrefix(arg, v.Target+"/"); ok {
					if _, err := os.Stat(filepath.Join(v.Source, rest)); err != nil {
						t.Errorf("service %s runs %s, which is not in %s", name, arg, v.Source)
					}
				}
			}
		}
	}
	if sh, err := exec.LookPath("sh"); err == nil {
		scripts, _ := filepath.Glob("temporal/*.sh")
		for _, f := range scripts {
			if out, err := exec.Command(sh, "-n", f).CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", f, err, out)
			}
		}
	}
}

// TestTemporalInitRegistersTheSearchAttributes compares the search
// attributes deploy/temporal/init.sh registers with the ones the loops set.
func TestTemporalInitRegistersTheSearchAttributes(t *testing.T) {
	script := readFile(t, "temporal/init.sh")
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`\b(Sync[A-Za-z]+):([A-Za-z]+)\b`).FindAllStringSubmatch(script, -1) {
		got[m[1]] = m[2]
	}
	want := map[string]string{}
	for name, typ := range control.SearchAttributes {
		want[name] = cliType(typ)
	}
	if !mapsEqual(got, want) {
		t.Errorf("temporal/init.sh registers %v, the loops set %v", got, want)
	}
}

// cliType is the temporal CLI's name of a search attribute type.
func cliType(t enums.IndexedValueType) string {
	var b strings.Builder
	for word := range strings.SplitSeq(strings.TrimPrefix(t.String(), "INDEXED_VALUE_TYPE_"), "_") {
		b.WriteString(word[:1] + strings.ToLower(word[1:]))
	}
	return b.String()
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// dockerfileInstr returns the Dockerfile's instructions, continuation lines
// joined and comments dropped.
func dockerfileInstr(t *testing.T) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(readFile(t, dockerfile), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

func TestComposeBuildsTheDockerfile(t *testing.T) {
	p := loadProject(t)
	root, _ := filepath.Abs(repoRoot)
	var image string
	for _, name := range imageServices {
		s := service(t, p, name)
		if s.Build == nil {
			t.Errorf("service %s does not build the Dockerfile", name)
			continue
		}
		if filepath.Clean(s.Build.Context) != root || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("service %s builds %s in %s, want Dockerfile in the repository root", name, s.Build.Dockerfile, s.Build.Context)
		}
		if image == "" {
			image = s.Image
		} else if s.Image != image {
			t.Errorf("service %s tags image %q, the others %q: one image runs them all", name, s.Image, image)
		}
	}

	instr := dockerfileInstr(t)
	args := map[string]string{}
	type stage struct {
		image string
		instr []string
	}
	var stages []stage
	for _, in := range instr {
		kw, rest, _ := strings.Cut(in, " ")
		switch strings.ToUpper(kw) {
		case "ARG":
			for a := range strings.FieldsSeq(rest) {
				if k, v, ok := strings.Cut(a, "="); ok && len(stages) == 0 {
					args[k] = v
				}
			}
		case "FROM":
			img := ""
			for f := range strings.FieldsSeq(rest) {
				if !strings.HasPrefix(f, "--") {
					img = f
					break
				}
			}
			img = os.Expand(img, func(k string) string { return args[k] })
			stages = append(stages, stage{image: img})
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].instr = append(stages[len(stages)-1].instr, in)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a multi-stage build", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(build.image, "golang:1.26") {
		t.Errorf("build stage FROM %q, want golang:1.26…", build.image)
	}
	if strings.HasPrefix(final.image, "golang") || !(strings.Contains(final.image, "distroless/static") || strings.HasPrefix(final.image, "alpine")) {
		t.Errorf("final stage FROM %q, want a small distroless/static or alpine image", final.image)
	}

	// Dependencies are downloaded in a layer of their own, before the sources.
	pos := func(sub string) int {
		return slices.IndexFunc(build.instr, func(in string) bool { return strings.Contains(in, sub) })
	}
	if a, b, c := pos("COPY go.mod go.sum"), pos("go mod download"), pos("COPY . ."); a < 0 || b < a || c < b {
		t.Errorf("build stage: want COPY go.mod go.sum, then go mod download, then COPY . . (got positions %d, %d, %d)", a, b, c)
	}
	if pos("CGO_ENABLED=0") < 0 {
		t.Error("build stage: CGO_ENABLED=0 is not set")
	}
	built := map[string]string{} // binary name → package
	for m := range strings.SplitSeq(strings.Join(build.instr, "\n"), ";") {
		fields := strings.Fields(m)
		i := slices.Index(fields, "build")
		if i < 1 || fields[i-1] != "go" {
			continue
		}
		if !slices.Contains(fields, "-trimpath") {
			t.Errorf("%q: build with -trimpath", strings.TrimSpace(m))
		}
		out := flagValue(fields, "-o")
		built[filepath.Base(out)] = fields[len(fields)-1]
	}
	for bin, pkg := range map[string]string{"syncloop-worker": "./worker", "syncloop": "./starter", "syncloop-democrm": "./deploy/democrm", "syncloop-healthcheck": "./deploy/healthcheck"} {
		if built[bin] != pkg {
			t.Errorf("Dockerfile does not build %s from %s (builds %v)", bin, pkg, built)
		}
		if !slices.ContainsFunc(final.instr, func(in string) bool {
			return strings.HasPrefix(in, "COPY --from=") && strings.Contains(in, "/"+bin+" ")
		}) {
			t.Errorf("the final stage does not copy %s", bin)
		}
	}
	user := ""
	for _, in := range final.instr {
		if v, ok := strings.CutPrefix(in, "USER "); ok {
			user = strings.TrimSpace(v)
		}
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("final stage runs as %q, want a non-root USER", user)
	}
	if !slices.Contains(final.instr, `CMD ["syncloop-worker"]`) {
		t.Error(`final stage: want CMD ["syncloop-worker"] (the worker by default)`)
	}

	// What the services run from the image is in it.
	for _, name := range imageServices {
		s := service(t, p, name)
		runs := []string{}
		if len(s.Command) > 0 {
			runs = append(runs, s.Command[0])
		}
		if hasHealthcheck(s) && s.HealthCheck.Test[0] == "CMD" {
			runs = append(runs, s.HealthCheck.Test[1])
		}
		for _, bin := range runs {
			if _, ok := built[bin]; !ok {
				t.Errorf("service %s runs %s, which the Dockerfile does not build", name, bin)
			}
		}
	}
	if s := service(t, p, "api"); !slices.Equal(s.Command, []string{"syncloop", "serve"}) {
		t.Errorf("api runs %v, want syncloop serve", s.Command)
	}

	// The build context leaves out local secrets and bulky test binaries and
	// keeps what the build needs.
	var ignore []string
	for line := range strings.SplitSeq(readFile(t, dockerIgn), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			ignore = append(ignore, line)
		}
	}
	for _, path := range []string{".git", ".env", "store.test", "deploy/.env"} {
		if !ignored(ignore, path) {
			t.Errorf(".dockerignore lets %s into the build context", path)
		}
	}
	for _, path := range []string{"go.mod", "go.sum", "worker/main.go", "starter/main.go", "deploy/democrm/main.go",
		"deploy/healthcheck/main.go", "store/migrations/00001_init.sql", "api/openapi.json"} {
		if ignored(ignore, path) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", path)
		}
	}
}

// ignored reports whether a .dockerignore pattern list excludes path (the
// subset of the syntax the file uses: globs, **/ prefixes, no negation).
func ignored(patterns []string, path string) bool {
	for _, pat := range patterns {
		if strings.HasPrefix(pat, "!") {
			continue
		}
		if rest, ok := strings.CutPrefix(pat, "**/"); ok {
			for part := range strings.SplitSeq(path, "/") {
				if m, _ := filepath.Match(rest, part); m {
					return true
				}
			}
			continue
		}
		parts := strings.Split(path, "/")
		for i := range parts {
			if m, _ := filepath.Match(pat, strings.Join(parts[:i+1], "/")); m {
				return true
			}
		}
	}
	return false
}

var (
	secretName    = regexp.MustCompile(`PASSWORD|PWD|SECRET|TOKEN|API_KEY|_KEY$`)
	interpolation = regexp.MustCompile(`^\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}$`)
	anyVariable   = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}`)
	urlPassword   = regexp.MustCompile(`://[^:/@\s]+:([^@\s]+)@`)
)

// TestComposeHasNoPlainTextSecrets reads docker-compose.yml before
// interpolation: every secret-looking value must come from a variable
// whose default is empty or a documented development default.
func TestComposeHasNoPlainTextSecrets(t *testing.T) {
	// The raw model: anchors and merge keys applied, ${…} left as written.
	model, err := projectOptions(t, nil, false).LoadModel(context.Background())
	if err != nil {
		t.Fatalf("load without interpolation: %v", err)
	}
	example := exampleEnv(t)
	checkRef := func(where, value string) {
		m := interpolation.FindStringSubmatch(value)
		if m == nil {
			t.Errorf("%s is the literal %q: take it from a variable, ${VAR:-}", where, value)
			return
		}
		if def := m[2]; def != "" {
			if devDefaults[m[1]] != def || example[m[1]] != def {
				t.Errorf("%s defaults to a value (${%s:-…}) that is not a documented development default", where, m[1])
			}
		}
	}
	services, _ := model["services"].(map[string]any)
	if len(services) == 0 {
		t.Fatal("the raw model has no services")
	}
	checked := 0
	for name, s := range services {
		environment, _ := s.(map[string]any)["environment"].(map[string]any)
		for key, v := range environment {
			value, _ := v.(string)
			where := "service " + name + ": " + key
			if secretName.MatchString(key) && value != "" {
				checkRef(where, value)
				checked++
			}
			for _, m := range urlPassword.FindAllStringSubmatch(value, -1) {
				checkRef(where+" (password in URL)", m[1])
				checked++
			}
		}
	}
	if checked < 5 {
		t.Errorf("checked only %d secret values; the raw model's shape may have changed", checked)
	}
	for key, v := range example {
		if secretName.MatchString(key) && v != "" && devDefaults[key] != v {
			t.Errorf("%s sets %s to a value: leave secrets empty in the example", envExample, key)
		}
	}
}

func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	m, err := dotenv.GetEnvFromFile(map[string]string{}, []string{envExample})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEnvExampleDocumentsEveryVariable checks that deploy/.env.example sets
// every variable docker-compose.yml uses, to its default there, and no
// variable the file does not use.
func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	example := exampleEnv(t)
	used := map[string]bool{}
	for line := range strings.SplitSeq(readFile(t, composeFile), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range anyVariable.FindAllStringSubmatch(line, -1) {
			used[m[1]] = true
			v, ok := example[m[1]]
			switch {
			case !ok:
				t.Errorf("docker-compose.yml uses ${%s}, which %s does not document", m[1], envExample)
			case v != m[2]:
				t.Errorf("%s: %s=%q, but docker-compose.yml defaults it to %q", envExample, m[1], v, m[2])
			}
		}
	}
	for key := range example {
		if !used[key] {
			t.Errorf("%s sets %s, which docker-compose.yml does not use", envExample, key)
		}
	}
	if len(used) == 0 {
		t.Fatal("found no ${VAR} in docker-compose.yml")
	}
}

// TestComposeLoadsWithoutEnvFile: the stack must come up without a .env,
// every variable having a default.
func TestComposeLoadsWithoutEnvFile(t *testing.T) {
	root, _ := filepath.Abs(repoRoot)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")}, cli.WithWorkingDirectory(root))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load without an env file: %v", err)
	}
	if v, _ := env(service(t, p, "postgres"), "POSTGRES_PASSWORD"); v != devDefaults["POSTGRES_PASSWORD"] {
		t.Errorf("POSTGRES_PASSWORD without an env file is %q", v)
	}
}
