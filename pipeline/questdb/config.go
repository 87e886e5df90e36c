package questdb

// Config is how a stage reaches QuestDB.
type Config struct {
	ILP   string // go-questdb-client conf string, e.g. http::addr=127.0.0.1:9000;
	PG    string // postgres URL of the PG wire port, for SQL
	Table string // the candle table
}

// Defaults for a local QuestDB (scripts/questdb.sh, `make run`).
const (
	DefaultILP   = "http::addr=127.0.0.1:9000;"
	DefaultPG    = "postgres://admin:quest@127.0.0.1:8812/qdb"
	DefaultTable = "candles"
)

// WithDefaults fills what is empty with the local defaults.
func (c Config) WithDefaults() Config {
	if c.ILP == "" {
		c.ILP = DefaultILP
	}
	if c.PG == "" {
		c.PG = DefaultPG
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	return c
}
