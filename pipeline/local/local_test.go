package local_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// The whole pipeline in one process against the real QuestDB: a CSV dropped
// into the inbox ends with its rows in the table and the file in ingested/.
func TestStartIngestsTheInbox(t *testing.T) {
	q := testenv.NewQuestDB(t)
	csv, err := os.ReadFile(filepath.Join("..", "..", "testdata", "kraken", "XBTUSD_1440.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := int64(bytes.Count(csv, []byte("\n")))
	inbox := t.TempDir()
	ctx := testenv.Context(t, 2*time.Minute)
	p, err := local.Start(ctx, local.Options{
		Store:   t.TempDir(),
		Keeper:  &ledger.Config{},
		Watcher: &watcher.Config{Inbox: inbox, Settle: 100 * time.Millisecond, NoLedgerKeeper: true},
		Parser:  &parser.Config{},
		Writer:  &writer.Config{QuestDB: q.Config(), FlushInterval: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = p.Stop()
		}
	}()
	if err := os.WriteFile(filepath.Join(inbox, "XBTUSD_1440.csv"), csv, 0o644); err != nil {
		t.Fatal(err)
	}
	done := filepath.Join(inbox, "ingested", "XBTUSD_1440.csv")
	for {
		if _, err := os.Stat(done); err == nil {
			break
		}
		select {
		case <-p.Done():
			t.Fatalf("pipeline stopped before the file was ingested: %v", p.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if n := q.WaitCount(t, rows, 30*time.Second); n != rows {
		t.Errorf("table %s holds %d rows, the file has %d", q.Table, n, rows)
	}
	if _, err := os.Stat(filepath.Join(inbox, "XBTUSD_1440.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file is still in the inbox: %v", err)
	}
	stopped = true
	if err := p.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

// A stage's failure stops the pipeline and is what Stop returns.
func TestStageFailureStopsThePipeline(t *testing.T) {
	p, err := local.Start(context.Background(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	p.Go("doomed", func(context.Context) error { return boom })
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the pipeline did not stop after a stage failed")
	}
	if err := p.Stop(); !errors.Is(err, boom) || err.Error() != "doomed: boom" {
		t.Errorf("stop: %v, want doomed: boom", err)
	}
}

func TestStartRejectsABadListenAddress(t *testing.T) {
	_, err := local.Start(context.Background(), local.Options{Listen: "no-port"})
	if err == nil || !strings.Contains(err.Error(), `listen address "no-port"`) {
		t.Errorf("err = %v, want one naming the listen address", err)
	}
}
