package questdb

import (
	"context"
	"fmt"
	"strings"
)

// CheckItem is one line of the health check.
type CheckItem struct {
	Name   string
	OK     bool
	Detail string
	Advice string
}

// CheckReport is the outcome of Check.
type CheckReport struct {
	Version Version
	Items   []CheckItem
}

// OK says whether every item passed.
func (r CheckReport) OK() bool {
	for _, it := range r.Items {
		if !it.OK {
			return false
		}
	}
	return len(r.Items) > 0
}

func (r CheckReport) String() string {
	var b strings.Builder
	for _, it := range r.Items {
		mark := "ok  "
		if !it.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s %-18s %s\n", mark, it.Name, it.Detail)
		if !it.OK && it.Advice != "" {
			fmt.Fprintf(&b, "     %-18s advice: %s\n", "", it.Advice)
		}
	}
	return b.String()
}

// Check looks at everything the pipeline needs from QuestDB: the PG wire
// answers, the version (`select build()`) supports DEDUP (7.3+), ILP over HTTP
// answers, and whether the candle table is there with its dedup keys.
func Check(ctx context.Context, ilpConf, pgURL, table string) CheckReport {
	var r CheckReport
	pool, err := Connect(ctx, pgURL)
	if err != nil {
		r.Items = append(r.Items, CheckItem{Name: "pg wire", Detail: err.Error(),
			Advice: "start QuestDB (scripts/questdb.sh start) or point --questdb-pg / FFF_QUESTDB_PG at it"})
	} else {
		defer pool.Close()
		r.Items = append(r.Items, CheckItem{Name: "pg wire", OK: true, Detail: "answers"})
		v, err := ServerVersion(ctx, pool)
		if err != nil {
			r.Items = append(r.Items, CheckItem{Name: "version", Detail: err.Error(), Advice: "is this QuestDB? select build() failed"})
		} else {
			r.Version = v
			r.Items = append(r.Items, CheckItem{Name: "version", OK: true, Detail: "QuestDB " + v.String()})
			dedup := CheckItem{Name: "dedup", OK: v.AtLeast(7, 3), Detail: "DEDUP UPSERT KEYS supported (7.3+)"}
			if !dedup.OK {
				dedup.Detail = "QuestDB " + v.String() + " has no DEDUP"
				dedup.Advice = "upgrade to QuestDB 7.3 or newer: without DEDUP, redelivered batches would double rows"
			}
			r.Items = append(r.Items, dedup)
		}
		if table != "" && ValidTable(table) == nil {
			exists, err := TableExists(ctx, pool, table)
			switch {
			case err != nil:
				r.Items = append(r.Items, CheckItem{Name: "table " + table, Detail: err.Error()})
			case !exists:
				// Not a failure: the writer (or fff migrate up) creates it.
				r.Items = append(r.Items, CheckItem{Name: "table " + table, OK: true, Detail: "not created yet (the writer or `fff migrate up` creates it)"})
			default:
				var ddl string
				if err := pool.QueryRow(ctx, "SHOW CREATE TABLE "+table).Scan(&ddl); err != nil {
					r.Items = append(r.Items, CheckItem{Name: "table " + table, Detail: err.Error()})
				} else if !strings.Contains(ddl, "DEDUP UPSERT KEYS") {
					r.Items = append(r.Items, CheckItem{Name: "table " + table, Detail: "exists without DEDUP keys",
						Advice: "ALTER TABLE " + table + " DEDUP ENABLE UPSERT KEYS(ts, source, pair, interval_minutes)"})
				} else {
					r.Items = append(r.Items, CheckItem{Name: "table " + table, OK: true, Detail: "exists with DEDUP UPSERT KEYS"})
				}
			}
		}
	}
	if err := PingILP(ctx, ilpConf); err != nil {
		r.Items = append(r.Items, CheckItem{Name: "ilp over http", Detail: err.Error(),
			Advice: "QuestDB's HTTP port (9000) must be reachable; set --questdb / FFF_QUESTDB, e.g. http::addr=127.0.0.1:9000;"})
	} else {
		r.Items = append(r.Items, CheckItem{Name: "ilp over http", OK: true, Detail: "answers /ping"})
	}
	return r
}
