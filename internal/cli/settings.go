package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/redact"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// NATS is how to reach the NATS server.
type NATS struct {
	URL      string
	User     string
	Password string
	Creds    string // credentials file (JWT + nkey seed)
	NKey     string // nkey seed file
	TLSCert  string
	TLSKey   string
	TLSCA    string
	// CandlesMaxAge/Bytes bound the CANDLES stream (zero: keep everything).
	CandlesMaxAge   time.Duration
	CandlesMaxBytes int64
	Replicas        int
	// Compress turns S2 on for CANDLES and FILEDATA (off: see docs/RELIABILITY.md).
	Compress bool
}

// DefaultNATSURL is where a local nats-server or `fff up` listens.
const DefaultNATSURL = "nats://127.0.0.1:4222"

// AddFlags registers the NATS flags.
func (n *NATS) AddFlags(fs *pflag.FlagSet) {
	Flag(fs, fs.StringVar, &n.URL, "nats", DefaultNATSURL, "NATS server URL(s), comma separated", "FFF_NATS_URL")
	Flag(fs, fs.StringVar, &n.User, "nats-user", "", "NATS user name", "FFF_NATS_USER")
	Flag(fs, fs.StringVar, &n.Password, "nats-password", "", "NATS password (prefer the environment variable)", "FFF_NATS_PASSWORD")
	Flag(fs, fs.StringVar, &n.Creds, "nats-creds", "", "NATS credentials file", "FFF_NATS_CREDS")
	Flag(fs, fs.StringVar, &n.NKey, "nats-nkey", "", "NATS nkey seed file", "FFF_NATS_NKEY")
	Flag(fs, fs.StringVar, &n.TLSCert, "nats-tls-cert", "", "client TLS certificate for NATS", "FFF_NATS_TLS_CERT")
	Flag(fs, fs.StringVar, &n.TLSKey, "nats-tls-key", "", "client TLS key for NATS", "FFF_NATS_TLS_KEY")
	Flag(fs, fs.StringVar, &n.TLSCA, "nats-tls-ca", "", "CA certificate to verify the NATS server", "FFF_NATS_TLS_CA")
	Flag(fs, fs.DurationVar, &n.CandlesMaxAge, "candles-max-age", 0, "drop candle batches older than this from the CANDLES stream (0: keep for replay)", "FFF_CANDLES_MAX_AGE")
	Flag(fs, fs.Int64Var, &n.CandlesMaxBytes, "candles-max-bytes", 0, "cap the CANDLES stream at this many bytes (0: no cap)", "FFF_CANDLES_MAX_BYTES")
	Flag(fs, fs.IntVar, &n.Replicas, "replicas", 1, "JetStream replicas for streams and buckets (3 on a cluster)", "FFF_REPLICAS")
	Flag(fs, fs.BoolVar, &n.Compress, "compress-streams", false, "store CANDLES and FILEDATA S2-compressed (off: S2 streams did not survive some cluster faults, docs/RELIABILITY.md)", "FFF_COMPRESS_STREAMS")
}

// Topology is the stream options these settings ask for.
func (n NATS) Topology() topology.Options {
	o := topology.DefaultOptions()
	o.CandlesMaxAge = n.CandlesMaxAge
	o.CandlesMaxBytes = n.CandlesMaxBytes
	if n.Replicas > 0 {
		o.Replicas = n.Replicas
	}
	o.Compress = n.Compress
	return o
}

// Connect dials NATS. name shows in the server's connection list. Errors
// never carry the password.
func (n NATS) Connect(name string, log *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(false),
	}
	if log != nil {
		opts = append(opts,
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					log.Warn("nats disconnected", "err", err)
				}
			}),
			nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", redact.Text(c.ConnectedUrl())) }),
		)
	}
	if n.User != "" || n.Password != "" {
		opts = append(opts, nats.UserInfo(n.User, n.Password))
	}
	if n.Creds != "" {
		opts = append(opts, nats.UserCredentials(n.Creds))
	}
	if n.NKey != "" {
		o, err := nats.NkeyOptionFromSeed(n.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats nkey file %s: %w", n.NKey, err)
		}
		opts = append(opts, o)
	}
	if n.TLSCert != "" || n.TLSKey != "" {
		opts = append(opts, nats.ClientCert(n.TLSCert, n.TLSKey))
	}
	if n.TLSCA != "" {
		opts = append(opts, nats.RootCAs(n.TLSCA))
	}
	nc, err := nats.Connect(n.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w (is nats-server or `fff up` running? set --nats or FFF_NATS_URL)",
			redact.Text(n.URL), redact.Error(err, n.Password))
	}
	return nc, nil
}

// AddQuestDBFlags registers --questdb, --questdb-pg and --table into q.
func AddQuestDBFlags(fs *pflag.FlagSet, q *questdb.Config) {
	Flag(fs, fs.StringVar, &q.ILP, "questdb", questdb.DefaultILP, "QuestDB ILP client configuration string (HTTP transport)", "FFF_QUESTDB")
	Flag(fs, fs.StringVar, &q.PG, "questdb-pg", questdb.DefaultPG, "QuestDB PostgreSQL wire URL, for SQL", "FFF_QUESTDB_PG")
	AddTableFlag(fs, q)
}

// AddTableFlag registers only --table.
func AddTableFlag(fs *pflag.FlagSet, q *questdb.Config) {
	Flag(fs, fs.StringVar, &q.Table, "table", questdb.DefaultTable, "QuestDB table for candles", "FFF_TABLE")
}

// Log configures slog.
type Log struct {
	Level  string
	Format string
}

// AddFlags registers the logging flags.
func (l *Log) AddFlags(fs *pflag.FlagSet) {
	Flag(fs, fs.StringVar, &l.Level, "log-level", "info", "log level: debug, info, warn, error", "FFF_LOG_LEVEL")
	Flag(fs, fs.StringVar, &l.Format, "log-format", "text", "log format: text or json", "FFF_LOG_FORMAT")
}

// Logger builds the logger these settings ask for.
func (l Log) Logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.Level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", l.Level)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(l.Format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", l.Format)
}

// Metrics is the address of the /metrics and /healthz endpoint.
type Metrics struct {
	Addr string
	// LagEvery is how often consumer lag is read (0: every
	// metrics.DefaultConsumerLagEvery); tests shorten it.
	LagEvery time.Duration
}

// AddFlags registers --metrics-addr with a per-service default ("" = off).
func (m *Metrics) AddFlags(fs *pflag.FlagSet, def string) {
	Flag(fs, fs.StringVar, &m.Addr, "metrics-addr", def, "serve Prometheus /metrics and /healthz on this address (empty: off)", "FFF_METRICS_ADDR")
}

// Common is what every service binary takes.
type Common struct {
	NATS    NATS
	Log     Log
	Metrics Metrics
}

// AddFlags registers NATS, logging and metrics flags.
func (c *Common) AddFlags(fs *pflag.FlagSet, metricsDefault string) {
	c.NATS.AddFlags(fs)
	c.Log.AddFlags(fs)
	c.Metrics.AddFlags(fs, metricsDefault)
}

// SignalContext is cancelled on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
