package benchmark

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

// rss is step 7: one file of about size bytes through each stage, each in
// its own process (fff bench-stage), peak RSS from getrusage.
func (b *bench) rss(ctx context.Context, size int64) (res *RSSResult, err error) {
	dir := filepath.Join(b.work, "rss")
	defer os.RemoveAll(dir)
	f, err := GenerateSize(filepath.Join(dir, "in"), size, b.o.Seed+1000)
	if err != nil {
		return nil, err
	}
	res = &RSSResult{FileBytes: f.Bytes, FileRows: f.Rows}
	lp, err := local.Start(ctx, local.Options{Store: filepath.Join(dir, "js"), Name: "fff-bench-rss", Log: b.stageLog,
		Keeper: &ledger.Config{}})
	if err != nil {
		return res, err
	}
	defer stopPipeline(lp, &err)
	js := lp.JS
	led, err := ledger.Open(ctx, js)
	if err != nil {
		return res, err
	}
	sink, err := questdb.StartNullServer()
	if err != nil {
		return res, err
	}
	defer sink.Close()

	// watcher: hash the file and store it in the object store, queue it.
	var sub struct {
		FileID string `json:"file_id"`
		Rows   int64  `json:"rows"`
	}
	st, out, err := b.stage(ctx, "watcher", []string{"--nats", lp.URL, "--file", f.Path}, nil)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(out, &sub); err != nil || sub.FileID == "" {
		return res, fmt.Errorf("watcher stage said %q: %v", out, err)
	}
	st.What = "hash the file, store it in the object store, queue it"
	res.Stages = append(res.Stages, st)

	waitState := func(states ...string) func() (bool, error) {
		return func() (bool, error) {
			e, _, err := led.Get(ctx, sub.FileID)
			if err != nil {
				if errors.Is(err, ledger.ErrNotFound) {
					return false, nil
				}
				return false, err
			}
			for _, s := range states {
				if e.State == s {
					return true, nil
				}
			}
			if ledger.Terminal(e.State) {
				return false, fmt.Errorf("file is %s: %s", e.State, e.Reason)
			}
			return false, nil
		}
	}
	st, _, err = b.stage(ctx, "parser", []string{"--nats", lp.URL}, waitState(contract.FileParsed, contract.FileCommitted))
	if err != nil {
		return res, err
	}
	st.What = "read the object, parse, publish the batches"
	res.Stages = append(res.Stages, st)
	st, _, err = b.stage(ctx, "writer", []string{"--nats", lp.URL, "--questdb", sink.ILP(),
		"--writers", strconv.Itoa(b.o.Writers), "--flush-rows", strconv.Itoa(b.o.FlushRows)}, waitState(contract.FileCommitted))
	if err != nil {
		return res, err
	}
	st.What = "consume the batches, send them to the null ILP sink"
	res.Stages = append(res.Stages, st)
	e, _, err := led.Get(ctx, sub.FileID)
	if err != nil {
		return res, err
	}
	if e.RowsCommitted != f.Rows {
		return res, fmt.Errorf("%d rows committed, the file has %d", e.RowsCommitted, f.Rows)
	}
	return res, nil
}

// stage runs `EXECUTABLE bench-stage NAME args` and, when done is given, stops it
// with SIGTERM once done reports true. It returns the peak RSS.
func (b *bench) stage(ctx context.Context, name string, args []string, done func() (bool, error)) (StageRSS, []byte, error) {
	cmd := exec.Command(b.self, append([]string{"bench-stage", name}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return StageRSS{}, nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fail := func(err error) (StageRSS, []byte, error) {
		_ = cmd.Process.Kill()
		<-exited
		return StageRSS{}, nil, fmt.Errorf("%s stage: %w\n%s", name, err, tail(stderr.Bytes(), 2000))
	}
	var werr error
	if done == nil {
		werr = <-exited
	} else {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
	loop:
		for {
			select {
			case <-ctx.Done():
				return fail(ctx.Err())
			case err := <-exited:
				return fail(fmt.Errorf("exited before it was done: %v", err))
			case <-tick.C:
				ok, err := done()
				if err != nil {
					return fail(err)
				}
				if ok {
					break loop
				}
			}
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case werr = <-exited:
		case <-time.After(30 * time.Second):
			return fail(errors.New("did not stop within 30s of SIGTERM"))
		}
	}
	el := time.Since(start)
	if werr != nil {
		return StageRSS{}, nil, fmt.Errorf("%s stage: %w\n%s", name, werr, tail(stderr.Bytes(), 2000))
	}
	// The child reports its own VmHWM as its last stdout line
	// (ReportPeakRSS). getrusage's
	// ru_maxrss is no use here: Linux carries the parent's high-water mark
	// over the fork and exec into the child's.
	out := bytes.TrimSpace(stdout.Bytes())
	last := out
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out, last = out[:i], out[i+1:]
	} else {
		out = nil
	}
	var hwm struct {
		VmHWMKB int64 `json:"vm_hwm_kb"`
	}
	if err := json.Unmarshal(last, &hwm); err != nil || hwm.VmHWMKB <= 0 {
		return StageRSS{}, nil, fmt.Errorf("%s stage did not report its peak RSS (%q)", name, last)
	}
	return StageRSS{Stage: name, Seconds: el.Seconds(), PeakMB: float64(hwm.VmHWMKB) / 1024}, out, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// ReportPeakRSS is the last thing a bench-stage process does: it writes
// its peak resident set as the JSON line the memory step reads.
func ReportPeakRSS(w io.Writer) error {
	kb, err := procKB("/proc/self/status", "VmHWM")
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(map[string]int64{"vm_hwm_kb": kb})
}

// procKB reads the "key: N kB" line of a /proc file (Linux).
func procKB(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, key+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in %s", key, path)
}
