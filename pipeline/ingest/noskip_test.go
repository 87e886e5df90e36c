package ingest_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// fff ingest --embedded's path (local pipeline, ingest.Load, the real parser
// and writer into the real QuestDB): the same bytes under two names and zip
// members in folders each load as their own file.
func TestLoadEveryIdentity(t *testing.T) {
	q := testenv.NewQuestDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := local.Start(ctx, local.Options{Store: t.TempDir(), Log: testenv.Logger(t),
		Keeper: &ledger.Config{},
		Parser: &parser.Config{},
		Writer: &writer.Config{QuestDB: q.Config(), FlushInterval: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()

	const t0 = 1736496000
	dir := t.TempDir()
	same := testenv.HourlyCSV(t0, 24, 100)
	os.WriteFile(filepath.Join(dir, "AAAUSD_60.csv"), same, 0o644)
	os.WriteFile(filepath.Join(dir, "BBBUSD_60.csv"), same, 0o644)
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for _, m := range []struct {
		name string
		b    []byte
	}{{"Kraken_OHLCVT/CCCUSD_60.csv", same}, {"x/DDDUSD_60.csv", testenv.HourlyCSV(t0, 5, 300)}, {"y/DDDUSD_60.csv", testenv.HourlyCSV(t0+5*3600, 5, 300)},
		{"Kraken_OHLCVT/README.md", []byte("hi")}} {
		w, _ := zw.Create(m.name)
		w.Write(m.b)
	}
	zw.Close()
	os.WriteFile(filepath.Join(dir, "Kraken_OHLCVT.zip"), zb.Bytes(), 0o644)

	cands, skipped, err := ingest.Scan(dir, ingest.Filters{})
	if err != nil || len(cands) != 5 || len(skipped) != 1 || skipped[0].Member != "Kraken_OHLCVT/README.md" {
		t.Fatalf("scan: %v, %d candidates, skipped %+v", err, len(cands), skipped)
	}
	sum, err := ingest.Load(ctx, p.JS, ingest.Options{Candidates: cands, NoKeeper: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Committed != 5 || sum.Already != 0 || sum.Failed != 0 || sum.Records != 24*3+10 {
		t.Errorf("summary %+v: want 5 files committed, %d rows", sum, 24*3+10)
	}
	for pair, want := range map[string]int64{"AAAUSD": 24, "BBBUSD": 24, "CCCUSD": 24, "DDDUSD": 10} {
		testenv.WaitValue(t, pair+" rows", func() float64 {
			var n int64
			if err := q.Pool.QueryRow(ctx, "SELECT count() FROM "+q.Table+" WHERE pair = $1", pair).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return float64(n)
		}, float64(want), 30*time.Second)
	}

	// Again: every one of them is recognised, nothing is loaded twice.
	sum, err = ingest.Load(ctx, p.JS, ingest.Options{Candidates: cands, NoKeeper: true})
	if err != nil || sum.Already != 5 || sum.Committed != 0 {
		t.Errorf("second load: %v %+v, want 5 already ingested", err, sum)
	}
}
