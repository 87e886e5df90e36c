package chaos

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoNATSServer says where a nats-server binary was looked for, and how to
// get one.
var ErrNoNATSServer = errors.New("no nats-server binary in PATH or $(go env GOPATH)/bin: GOSUMDB=off go install github.com/nats-io/nats-server/v2@v2.15.2")

// FindNATSServer is the nats-server the process-level suites run: PATH
// first, then where `go install` puts it (the first GOPATH entry's bin, as
// .ci/run installs it).
func FindNATSServer() (string, error) {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), string(os.PathListSeparator))
		p := filepath.Join(first, "bin", "nats-server")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", ErrNoNATSServer
}
