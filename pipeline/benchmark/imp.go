package benchmark

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

// impVariant is one table /imp is timed into.
type impVariant struct {
	name  string // table name prefix
	dedup bool   // DEDUP UPSERT KEYS(ts, pair), as ours has on its keys
}

var impVariants = []impVariant{{"fff_bench_imp", false}, {"fff_bench_impdedup", true}}

// imp is step 6: the same rows through QuestDB's /imp, one file after the
// other (/imp is single-threaded), into a WAL table partitioned like ours,
// timed until count() sees every row; once into a table without DEDUP, once
// into one with it. The /imp files are written once for both. A variant
// that failed has a nil result and its error in errs.
func (b *bench) imp(ctx context.Context, files []File) (results []*ImpResult, errs []error) {
	results, errs = make([]*ImpResult, len(impVariants)), make([]error, len(impVariants))
	dir := filepath.Join(b.work, "imp")
	impFiles, err := Generate(Spec{Dir: dir, Rows: b.o.Rows, Files: b.o.Files, Seed: b.o.Seed}, Imp)
	defer os.RemoveAll(dir)
	for i, v := range impVariants {
		if err != nil {
			errs[i] = err
			continue
		}
		results[i], errs[i] = b.impInto(ctx, files, impFiles, v)
	}
	return results, errs
}

func (b *bench) impInto(ctx context.Context, files, impFiles []File, v impVariant) (*ImpResult, error) {
	table := tableName(v.name)
	ddl := "CREATE TABLE " + table + ` (ts TIMESTAMP, pair SYMBOL CAPACITY 4096 CACHE, open DOUBLE, high DOUBLE,
		low DOUBLE, close DOUBLE, volume DOUBLE, trades LONG) TIMESTAMP(ts) PARTITION BY MONTH WAL`
	if v.dedup {
		ddl += " DEDUP UPSERT KEYS(ts, pair)"
	}
	if _, err := b.pool.Exec(ctx, ddl); err != nil {
		return nil, fmt.Errorf("create %s: %w", table, err)
	}
	defer b.dropTable(table)
	res := &ImpResult{Table: table}
	client := &http.Client{Timeout: 30 * time.Minute}
	params := url.Values{"timestamp": {"ts"}, "partitionBy": {"MONTH"}, "forceHeader": {"true"}}
	start := time.Now()
	for i, f := range impFiles {
		r, err := questdb.Import(ctx, client, b.httpBase, table, f.Path, params)
		if err != nil {
			return nil, err
		}
		if r.RowsRejected > 0 || r.RowsImported != files[i].Rows {
			return nil, fmt.Errorf("/imp %s: %d rows imported, %d rejected, want %d", filepath.Base(f.Path), r.RowsImported, r.RowsRejected, files[i].Rows)
		}
		res.Rows += r.RowsImported
		res.Bytes += f.Bytes
	}
	res.PostSecs = time.Since(start).Seconds()
	n, err := b.countApplied(ctx, table)
	if err != nil {
		return nil, err
	}
	res.VisibleSecs = time.Since(start).Seconds()
	if n != b.o.Rows {
		return nil, fmt.Errorf("table %s holds %d rows after /imp, %d were generated", table, n, b.o.Rows)
	}
	res.RowsPerSec = float64(n) / res.VisibleSecs
	return res, nil
}
