// Package questdb is the pipeline's SQL side of QuestDB: connecting over the
// PostgreSQL wire port, versioned migrations, the health check, and waiting
// for WAL tables to apply what was written. Rows go in over ILP (see the
// writer); everything else goes through here.
package questdb

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feefifofunds/feefifofunds/pipeline/redact"
)

// Connect opens a pool on QuestDB's PG wire port and checks it answers.
func Connect(ctx context.Context, pgURL string) (*pgxpool.Pool, error) {
	pool, err := Open(ctx, pgURL)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("questdb pg wire at %s does not answer: %w (is QuestDB running? `scripts/questdb.sh start`; set --questdb-pg or FFF_QUESTDB_PG)",
			redact.Text(pgURL), redact.Error(err, passwordOf(pgURL)))
	}
	return pool, nil
}

// Open makes a pool on QuestDB's PG wire port without waiting for it: the
// pool connects on first use and again after QuestDB restarts, so a
// long-running poller can start while QuestDB is down.
func Open(ctx context.Context, pgURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(pgURL)
	if err != nil {
		return nil, fmt.Errorf("questdb pg url %s: %w", redact.Text(pgURL), redact.Error(err, passwordOf(pgURL)))
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	// Unnamed statements: QuestDB rejects the simple protocol with arguments
	// and cached prepared statements go stale across DDL.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("questdb pg %s: %w", redact.Text(pgURL), redact.Error(err, passwordOf(pgURL)))
	}
	return pool, nil
}

func passwordOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.User != nil {
		pw, _ := p.User.Password()
		return pw
	}
	return ""
}

var tableNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,126}$`)

// ValidTable checks a table name before it is put into SQL.
func ValidTable(name string) error {
	if !tableNameRe.MatchString(name) {
		return fmt.Errorf("table name %q: use letters, digits and _ (not starting with a digit)", name)
	}
	return nil
}

// Version is QuestDB's version as `select build()` reports it.
type Version struct {
	Raw                 string
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast compares versions.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

var buildRe = regexp.MustCompile(`QuestDB\s+(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseBuild reads the version from `select build()` output such as
// "Build Information: QuestDB 9.3.4, JDK 17.0.16, Commit Hash ...".
func ParseBuild(s string) (Version, error) {
	m := buildRe.FindStringSubmatch(s)
	if m == nil {
		return Version{Raw: s}, fmt.Errorf("cannot find a QuestDB version in %q", s)
	}
	v := Version{Raw: s}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, nil
}

// ServerVersion asks QuestDB for its version. `select version()` returns a
// PostgreSQL-compatible string, so build() is what names QuestDB's.
func ServerVersion(ctx context.Context, db Querier) (Version, error) {
	var s string
	if err := db.QueryRow(ctx, "select build()").Scan(&s); err != nil {
		return Version{}, fmt.Errorf("select build(): %w", err)
	}
	return ParseBuild(s)
}

// Querier is what pgx pools and connections share.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// ILPAddr extracts the HTTP address from an ILP configuration string.
func ILPAddr(conf string) (scheme, addr string, err error) {
	scheme, rest, ok := strings.Cut(conf, "::")
	if !ok {
		return "", "", fmt.Errorf("ILP conf %q: want e.g. http::addr=127.0.0.1:9000;", redact.Text(conf))
	}
	for _, kv := range strings.Split(rest, ";") {
		k, v, _ := strings.Cut(kv, "=")
		if strings.TrimSpace(k) == "addr" {
			return scheme, strings.TrimSpace(v), nil
		}
	}
	return scheme, "", fmt.Errorf("ILP conf %q has no addr=", redact.Text(conf))
}

// PingILP checks that QuestDB's HTTP endpoint answers ILP (/ping gives 204).
func PingILP(ctx context.Context, conf string) error {
	scheme, addr, err := ILPAddr(conf)
	if err != nil {
		return err
	}
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("ILP transport %q: the pipeline needs http or https (TCP has no acknowledgements)", scheme)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+"/ping", nil)
	if err != nil {
		return fmt.Errorf("ILP ping: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ILP over HTTP at %s does not answer: %w", addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ILP over HTTP at %s: /ping answered %s", addr, resp.Status)
	}
	return nil
}
