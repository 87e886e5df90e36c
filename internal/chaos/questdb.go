package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
)

// questDB is the suite's own QuestDB, run by scripts/questdb.sh on ports of
// its own under a root of its own, so the shared instance on 9000/8812 is
// never touched: the pid it kills is the one in its own root's pid file.
type questDB struct {
	script string
	root   string
	env    []string
	http   int
	pg     int
}

func newQuestDB(repo, dir string) (*questDB, error) {
	q := &questDB{script: filepath.Join(repo, "scripts", "questdb.sh"), root: filepath.Join(dir, "questdb")}
	ports := make([]int, 4)
	for i := range ports {
		p, err := natsembed.FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	q.http, q.pg = ports[0], ports[1]
	q.env = []string{
		"QUESTDB_ROOT=" + q.root,
		"QUESTDB_HTTP_PORT=" + fmt.Sprint(ports[0]),
		"QUESTDB_PG_PORT=" + fmt.Sprint(ports[1]),
		"QUESTDB_ILP_TCP_PORT=" + fmt.Sprint(ports[2]),
		"QUESTDB_MIN_HTTP_PORT=" + fmt.Sprint(ports[3]),
	}
	return q, nil
}

func (q *questDB) ILP() string { return fmt.Sprintf("http::addr=127.0.0.1:%d;", q.http) }
func (q *questDB) PG() string {
	return fmt.Sprintf("postgres://admin:quest@127.0.0.1:%d/qdb", q.pg)
}

func (q *questDB) run(ctx context.Context, verb string) error {
	cmd := exec.CommandContext(ctx, q.script, verb)
	cmd.Env = append(os.Environ(), q.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("questdb.sh %s: %w: %s", verb, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// start starts it and waits until it answers.
func (q *questDB) start(ctx context.Context) error { return q.run(ctx, "start") }

// stop ends it gracefully (end of the suite).
func (q *questDB) stop(ctx context.Context) error { return q.run(ctx, "stop") }

// kill9 kills the JVM of this root's pid file.
func (q *questDB) kill9() error {
	b, err := os.ReadFile(filepath.Join(q.root, "questdb.pid"))
	if err != nil {
		return fmt.Errorf("questdb pid: %w", err)
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 1 {
		return fmt.Errorf("questdb pid file holds %q", b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 questdb %d: %w", pid, err)
	}
	// Wait until the process is gone, so the restart finds the ports free.
	for syscall.Kill(pid, 0) == nil {
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
