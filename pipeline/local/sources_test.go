package local_test

import (
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/massive/massivetest"
	"github.com/feefifofunds/feefifofunds/pipeline/pricefetch"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// With MASSIVE_API_KEY set, the embedded pipeline serves fills.massive into
// QuestDB, as `fff up` runs it; Finnhub, without its key, is not built.
func TestStartServesPriceRequests(t *testing.T) {
	t.Setenv("MASSIVE_API_KEY", "test-key")
	t.Setenv("FINNHUB_API_KEY", "")
	fake := massivetest.New(t, "test-key")
	fake.LoadFixture("aggs_AAPL_1_day_2023-01-09_2023-02-10.json")
	if _, err := pricefetch.NewSource("finnhub", pricefetch.SourceOptions{}); err == nil {
		t.Fatal("a finnhub source without FINNHUB_API_KEY")
	}
	src, err := pricefetch.NewSource("massive", pricefetch.SourceOptions{BaseURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	q := testenv.NewQuestDB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	p, err := local.Start(ctx, local.Options{
		Log:          testenv.Logger(t),
		Writer:       &writer.Config{QuestDB: q.Config(), FlushInterval: 50 * time.Millisecond},
		PriceSources: []pricefetch.Source{src},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	req := `{"ticker":"AAPL","start":"2023-01-09","end":"2023-01-13"}`
	if _, err := p.JS.Publish(ctx, topology.FillSubject("massive"), []byte(req)); err != nil {
		t.Fatal(err)
	}
	// 2023-01-09 to 13 is a full trading week: five daily candles.
	if n := q.WaitCount(t, 5, 60*time.Second); n != 5 {
		t.Fatalf("table %s holds %d rows after fills.massive %s, want 5", q.Table, n, req)
	}
	var source string
	if err := q.Pool.QueryRow(ctx, "SELECT source FROM "+q.Table+" WHERE pair = 'AAPL' LIMIT 1").Scan(&source); err != nil || source != "massive" {
		t.Errorf("source %q (%v), want massive", source, err)
	}
}

// The gap scanner's jobs run in the embedded pipeline: a job set to run at
// start reports on gapscanner.<kind>.<job>.
func TestStartRunsTheScannerJobs(t *testing.T) {
	q := testenv.NewQuestDB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	job := gapscanner.Job{Name: "stale-now", Kind: gapscanner.JobStale, Schedule: gapscanner.Every(time.Hour), AtStart: true}
	p, err := local.Start(ctx, local.Options{
		Log:     testenv.Logger(t),
		Scanner: &gapscanner.Config{QuestDB: q.Config(), Jobs: []gapscanner.Job{job}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	st, err := p.JS.Stream(ctx, topology.StreamScanner)
	if err != nil {
		t.Fatal(err)
	}
	subject := topology.ScannerSubject(gapscanner.JobStale, job.Name)
	testenv.WaitValue(t, "reports on "+subject, func() float64 {
		if _, err := st.GetLastMsgForSubject(ctx, subject); err != nil {
			return 0
		}
		return 1
	}, 1, 60*time.Second)
}
