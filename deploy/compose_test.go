// Package deploy tests the deployment files at the repository root
// (compose.yaml, Dockerfile, nats.conf, nats-cluster.conf) without Docker:
// every flag and variable compose.yaml passes must exist on its binary, and
// nats.conf must start a server whose users can do what they are meant to.
package deploy

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

const root = ".."

// fffServices are the services built from the Dockerfile, each running the
// binary of the same name.
var fffServices = []string{"watcher", "parser", "writer", "gapscanner", "fetcher"}

var (
	binDir   string
	buildMu  sync.Mutex
	builtErr = map[string]error{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fff-deploy-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds cmd/<name> once and returns its path. A command whose
// folder has no Go files yet is skipped, not failed: it is being written.
func binary(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(root, "cmd", name)
	if files, _ := filepath.Glob(filepath.Join(src, "*.go")); len(files) == 0 {
		t.Skipf("cmd/%s has no Go files yet", name)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	out := filepath.Join(binDir, name)
	if err, done := builtErr[name]; done {
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		builtErr[name] = fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, b)
		t.Fatal(builtErr[name])
	}
	builtErr[name] = nil
	return out
}

var (
	helpFlagRe = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)`)
	helpEnvRe  = regexp.MustCompile(`\[\$(FFF_[A-Z0-9_]+)\]`)
)

// help runs `<bin> [subcommands] --help` and returns the flags and the FFF_*
// variables it lists (settings.Bind adds "[$FFF_X]" to a flag's help).
func help(t *testing.T, bin string, sub []string) (flags, envs map[string]bool) {
	t.Helper()
	args := append(append([]string{}, sub...), "--help")
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	flags, envs = map[string]bool{}, map[string]bool{}
	for _, m := range helpFlagRe.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	for _, m := range helpEnvRe.FindAllStringSubmatch(string(out), -1) {
		envs[m[1]] = true
	}
	if len(flags) == 0 {
		t.Fatalf("%s %s printed no flags:\n%s", filepath.Base(bin), strings.Join(args, " "), out)
	}
	return flags, envs
}

type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Restart     string            `yaml:"restart"`
	User        string            `yaml:"user"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
	} `yaml:"healthcheck"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(false)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

// split cuts a command into binary, leading subcommands and --flags (with
// their values when given as --flag=value or as the next argument).
func split(command []string) (bin string, sub []string, flags map[string]string) {
	flags = map[string]string{}
	if len(command) == 0 {
		return "", nil, flags
	}
	bin = command[0]
	rest := command[1:]
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		sub, rest = append(sub, rest[0]), rest[1:]
	}
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !hasVal && i+1 < len(rest) && !strings.HasPrefix(rest[i+1], "-") {
			val = rest[i+1]
			i++
		}
		flags[name] = val
	}
	return bin, sub, flags
}

// TestComposeFlagsAndEnvExist: every --flag and FFF_* variable compose.yaml
// gives a service exists on that service's binary (and subcommand).
func TestComposeFlagsAndEnvExist(t *testing.T) {
	c := loadCompose(t)
	for _, name := range fffServices {
		t.Run(name, func(t *testing.T) {
			svc, ok := c.Services[name]
			if !ok {
				t.Fatalf("compose.yaml has no %s service", name)
			}
			bin, sub, flags := split(svc.Command)
			if bin != name {
				t.Fatalf("service %s runs %q, want the %s binary", name, bin, name)
			}
			known, knownEnv := help(t, binary(t, name), sub)
			for f := range flags {
				if !known[f] {
					t.Errorf("%s %s: no flag --%s (has: %s)", bin, strings.Join(sub, " "), f, keys(known))
				}
			}
			for env := range svc.Environment {
				if !strings.HasPrefix(env, "FFF_") {
					t.Errorf("service %s sets %s: only FFF_* variables reach the binaries", name, env)
					continue
				}
				if !knownEnv[env] {
					t.Errorf("%s %s: no flag bound to %s (has: %s)", bin, strings.Join(sub, " "), env, keys(knownEnv))
				}
			}
		})
	}
}

func keys(m map[string]bool) string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return strings.Join(k, " ")
}

// TestComposeServices checks the shape a deployment needs: pinned official
// images, healthchecks that probe the port each service serves, restart
// policies, start order, the inbox bind mount.
func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	nats := c.Services["nats"]
	// One nats-server version everywhere: the image runs the same server the
	// embedded mode and the tests run (go.mod's nats-server/v2).
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/nats-io/nats-server/v2 v(\S+)$`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/nats-io/nats-server/v2")
	}
	if want := "nats:" + string(m[1]) + "-alpine"; nats.Image != want {
		t.Errorf("nats image %q: want %q, the server version the embedded mode and the tests run (alpine, for wget in the healthcheck)", nats.Image, want)
	}
	if !slices.Contains(nats.Volumes, "./nats.conf:/etc/nats/nats.conf:ro") || !slices.Contains(nats.Command, "/etc/nats/nats.conf") || !slices.Contains(nats.Command, "-js") {
		t.Errorf("nats must run with the mounted nats.conf and -js: command %v volumes %v", nats.Command, nats.Volumes)
	}
	for _, env := range []string{"PIPELINE_PASSWORD", "READER_PASSWORD"} {
		if !strings.Contains(nats.Environment[env], ":?") {
			t.Errorf("nats %s = %q: want ${%s:?...} so compose refuses to start without it", env, nats.Environment[env], env)
		}
	}
	if q := c.Services["questdb"]; q.Image != "questdb/questdb:9.3.4" {
		t.Errorf("questdb image %q, want questdb/questdb:9.3.4", q.Image)
	}
	for name, svc := range c.Services {
		if svc.Healthcheck == nil || len(svc.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no healthcheck", name)
		}
		if svc.Restart == "" || svc.Restart == "no" {
			t.Errorf("service %s has no restart policy", name)
		}
		for dep, d := range svc.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("service %s depends on unknown service %s", name, dep)
			}
			if d.Condition != "service_healthy" && d.Condition != "service_started" {
				t.Errorf("service %s depends on %s with condition %q", name, dep, d.Condition)
			}
		}
	}
	for _, name := range fffServices {
		svc := c.Services[name]
		if svc.Build == nil {
			t.Errorf("service %s is not built from the Dockerfile", name)
		}
		if svc.DependsOn["nats"].Condition != "service_healthy" {
			t.Errorf("service %s does not wait for a healthy nats", name)
		}
		_, _, flags := split(svc.Command)
		addr, ok := flags["metrics-addr"]
		if !ok {
			t.Errorf("service %s: no --metrics-addr, so nothing serves its /healthz", name)
			continue
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Errorf("service %s: --metrics-addr %q: %v", name, addr, err)
			continue
		}
		test := svc.Healthcheck.Test
		if len(test) != 3 || test[0] != "CMD" || test[1] != "httpcheck" {
			t.Errorf("service %s healthcheck %v: want [CMD httpcheck URL] (the image has no shell)", name, test)
			continue
		}
		u, err := url.Parse(test[2])
		if err != nil || u.Port() != port || u.Path != "/healthz" {
			t.Errorf("service %s healthcheck %q does not probe /healthz on its metrics port %s", name, test[2], port)
		}
		if svc.Environment["FFF_NATS_URL"] != "nats://nats:4222" || svc.Environment["FFF_NATS_USER"] != "pipeline" ||
			!strings.Contains(svc.Environment["FFF_NATS_PASSWORD"], "PIPELINE_PASSWORD") {
			t.Errorf("service %s does not connect to nats as the pipeline user: %v", name, svc.Environment)
		}
	}
	for _, name := range []string{"writer", "gapscanner"} {
		svc := c.Services[name]
		if svc.DependsOn["questdb"].Condition != "service_healthy" {
			t.Errorf("%s does not wait for a healthy questdb", name)
		}
		if !strings.Contains(svc.Environment["FFF_QUESTDB"], "questdb:9000") || !strings.Contains(svc.Environment["FFF_QUESTDB_PG"], "@questdb:8812/") {
			t.Errorf("%s does not point at the questdb service: %v", name, svc.Environment)
		}
	}
	if w := c.Services["watcher"]; !slices.Contains(w.Volumes, "./inbox:/inbox") || !slices.Contains(w.Command, "/inbox") {
		t.Errorf("watcher must watch the ./inbox bind mount: volumes %v command %v", w.Volumes, w.Command)
	}
	if g := c.Services["gapscanner"]; !slices.Equal(g.Command[:4], []string{"gapscanner", "run", "--every", "1h"}) {
		t.Errorf("gapscanner command %v, want gapscanner run --every 1h ...", g.Command)
	}
	if f := c.Services["fetcher"]; f.Environment["FFF_KRAKEN_URL"] == "" {
		t.Error("fetcher has no FFF_KRAKEN_URL")
	}
	for _, svc := range c.Services {
		for _, p := range svc.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("port %q is published on every interface", p)
			}
		}
	}
}

// TestDockerfile: the image builds every command, static and non-root, and
// the healthcheck helper it compiles works.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	dirs, _ := filepath.Glob(filepath.Join(root, "cmd", "*"))
	for _, d := range dirs {
		if files, _ := filepath.Glob(filepath.Join(d, "*.go")); len(files) == 0 {
			continue
		}
		if !strings.Contains(df, "./cmd/"+filepath.Base(d)+" ") && !strings.Contains(df, "./cmd/"+filepath.Base(d)+"\n") {
			t.Errorf("Dockerfile does not build ./cmd/%s", filepath.Base(d))
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "FROM gcr.io/distroless/static-debian12:nonroot", "USER 65532:65532", "AS build"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Count(df, "\nFROM ") < 2 {
		t.Error("Dockerfile is not multi-stage")
	}

	// Build and exercise the embedded httpcheck program.
	begin := strings.Index(df, "<<'GO'")
	body := df[strings.Index(df[begin:], "\n")+begin+1:]
	end := strings.Index(body, "\nGO\n")
	if begin < 0 || end < 0 {
		t.Fatal("Dockerfile: no httpcheck heredoc (<<'GO' ... GO)")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(body[:end+1]), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module httpcheck\n\ngo 1.22\n"), 0o644)
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "httpcheck"), ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("httpcheck does not build: %v\n%s", err, out)
	}
	srv := healthServer(t)
	for path, wantOK := range map[string]bool{"/healthz": true, "/sick": false} {
		err := exec.Command(filepath.Join(dir, "httpcheck"), srv+path).Run()
		if (err == nil) != wantOK {
			t.Errorf("httpcheck %s: err=%v, want ok=%v", path, err, wantOK)
		}
	}
	if err := exec.Command(filepath.Join(dir, "httpcheck"), "http://127.0.0.1:1/healthz").Run(); err == nil {
		t.Error("httpcheck succeeded against a closed port")
	}
}

func TestDockerignoreKeepsBuildInputs(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "pipeline", "schemas"} {
			if line == needed || line == needed+"/" || line == "*" {
				t.Errorf(".dockerignore excludes %s, which the build needs", needed)
			}
		}
	}
	if !strings.Contains(string(raw), ".questdb") {
		t.Error(".dockerignore does not exclude the local QuestDB data (.questdb)")
	}
}

func TestHelpParsing(t *testing.T) {
	bin, sub, flags := split([]string{"gapscanner", "run", "--every", "1h", "--tier=TIER1", "--yes", "--metrics-addr", "0.0.0.0:9103"})
	if bin != "gapscanner" || !slices.Equal(sub, []string{"run"}) || flags["every"] != "1h" || flags["tier"] != "TIER1" ||
		flags["metrics-addr"] != "0.0.0.0:9103" {
		t.Fatalf("split: %q %q %v", bin, sub, flags)
	}
	if _, ok := flags["yes"]; !ok {
		t.Fatal("split lost --yes")
	}
	out := "Flags:\n  -h, --help   help\n      --nats string   NATS server URL(s) [$FFF_NATS_URL]\n      --workers int   files at once [$FFF_PARSER_WORKERS]\n"
	var fl []string
	for _, m := range helpFlagRe.FindAllStringSubmatch(out, -1) {
		fl = append(fl, m[1])
	}
	if !slices.Equal(fl, []string{"help", "nats", "workers"}) {
		t.Fatalf("flags from help: %v", fl)
	}
	if m := helpEnvRe.FindAllStringSubmatch(out, -1); len(m) != 2 || m[1][1] != "FFF_PARSER_WORKERS" {
		t.Fatalf("env from help: %v", m)
	}
}

func healthServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
