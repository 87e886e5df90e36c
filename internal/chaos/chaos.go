// Package chaos is the fault suite behind `make chaos`: the stage binaries
// run as separate processes against real nats-server processes (one node, or
// a 3-node cluster with every stream R3) and a QuestDB of the suite's own,
// generated files arrive in waves while watcher, parsers, writers, NATS nodes
// and QuestDB are killed at random; then the table must hold exactly the
// generated rows, once each, every file must be in ingested/ and the DLQ
// empty. It is not part of `make test`: a trial takes a minute or more.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/benchmark"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
)

// Options of a run of the suite.
type Options struct {
	Repo       string // module root: scripts/questdb.sh and ./cmd/... are found there
	NATSServer string // nats-server binary (v2.15.2)
	Dir        string // work folder; "" makes a temporary one
	Keep       bool   // keep the work folder even when every trial passed

	Trials  int
	Seed    uint64
	Cluster bool // 3 nats-server nodes, --replicas 3
	Files   int  // files a trial
	Rows    int64
	Waves   int // the files arrive in this many waves
	Parsers int
	Writers int

	Kills         int           // kill -9 fillers a trial (the required faults come on top)
	Gap           time.Duration // mean pause between faults
	QuestDBOutage time.Duration // the one long QuestDB outage of a trial
	SettleTimeout time.Duration // how long the pipeline may take after the last fault

	Log *slog.Logger
	Out io.Writer // the per-trial lines and the summary
}

// Run runs the trials and prints one line per trial and a summary; it fails
// when a trial did not pass.
func Run(ctx context.Context, o Options) error {
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "fff-chaos-")
		if err != nil {
			return err
		}
		dir = d
	}
	// Removed last, after the suite's QuestDB stopped: its pid file lives
	// here, and without it questdb.sh stop found nothing to stop and left
	// the JVM running on a deleted root (one leaked per passing run).
	remove := false
	defer func() {
		if remove {
			_ = os.RemoveAll(dir)
		}
	}()
	bin := filepath.Join(dir, "bin")
	o.Log.Info("building the stage binaries", "into", bin)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./cmd/watcher", "./cmd/parser", "./cmd/writer")
	build.Dir = o.Repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w: %s", err, out)
	}
	qdb, err := newQuestDB(o.Repo, dir)
	if err != nil {
		return err
	}
	o.Log.Info("starting the suite's own QuestDB", "http", qdb.http, "pg", qdb.pg, "root", qdb.root)
	if err := qdb.start(ctx); err != nil {
		return err
	}
	defer func() {
		if err := qdb.stop(context.WithoutCancel(ctx)); err != nil {
			o.Log.Warn("stop questdb", "err", err)
		}
	}()
	mode := "single node"
	if o.Cluster {
		mode = "3-node cluster, R3"
	}
	fmt.Fprintf(o.Out, "fault suite: %s, %d trials, seed %d, %d files x %d rows in %d waves, %d parsers, %d writers, >= %d kills + required faults, QuestDB outage %s\n",
		mode, o.Trials, o.Seed, o.Files, o.Rows, o.Waves, o.Parsers, o.Writers, o.Kills, o.QuestDBOutage)
	passed := 0
	var worst time.Duration
	for i := range o.Trials {
		t := &trial{opts: o, n: i + 1, dir: filepath.Join(dir, fmt.Sprintf("trial-%d", i+1)), bin: bin, qdb: qdb,
			log: o.Log.With("trial", i+1)}
		out, err := t.run(ctx)
		if err != nil {
			return fmt.Errorf("trial %d: %w", i+1, err)
		}
		ok := out.Pass(o.Files)
		verdict := "PASS"
		if ok {
			passed++
		} else {
			verdict = "FAIL"
		}
		worst = max(worst, out.Recover)
		fmt.Fprintf(o.Out, "trial %d %s: kills %d, TERM %d, self-exits %d, rows %d/%d, lost %d, duplicated %d, ingested %d/%d, rejected %d, DLQ %d, recovered %.1fs after the last fault\n",
			i+1, verdict, out.Kills, out.Terms, out.SelfExits, out.Rows, out.Expected, out.Lost(), out.Duplicated(),
			out.Ingested, o.Files, out.Rejected, out.DLQ, out.Recover.Seconds())
		if !ok {
			fmt.Fprintf(o.Out, "  kept for a look: %s (logs: *.log, inbox/rejected/*.reason.txt)\n", t.dir)
			for _, r := range reasons(filepath.Join(t.inbox(), "rejected")) {
				fmt.Fprintf(o.Out, "  rejected: %s\n", r)
			}
		}
	}
	fmt.Fprintf(o.Out, "%d of %d trials passed; slowest recovery %.1fs\n", passed, o.Trials, worst.Seconds())
	if passed != o.Trials {
		return fmt.Errorf("%d of %d trials failed (work folder %s)", o.Trials-passed, o.Trials, dir)
	}
	remove = o.Dir == "" && !o.Keep
	return nil
}

// reasons are the first lines of the rejected files' notes.
func reasons(dir string) []string {
	notes, _ := filepath.Glob(filepath.Join(dir, "*.reason.txt"))
	var out []string
	for _, n := range notes {
		b, _ := os.ReadFile(n)
		line, _, _ := strings.Cut(string(b), "\n")
		out = append(out, filepath.Base(n)+": "+line)
	}
	return out
}

// trial is one run of the pipeline under faults.
type trial struct {
	opts Options
	n    int
	dir  string
	bin  string
	qdb  *questDB
	log  *slog.Logger

	nodes   []*NATSNode
	watcher *proc
	parsers []*proc
	writers []*proc
	nc      *nats.Conn
	js      jetstream.JetStream
}

func (t *trial) inbox() string { return filepath.Join(t.dir, "inbox") }

func (t *trial) all() []*proc {
	ps := []*proc{t.watcher}
	ps = append(ps, t.parsers...)
	ps = append(ps, t.writers...)
	for _, nd := range t.nodes {
		ps = append(ps, nd.proc)
	}
	return ps
}

// waitNodes waits until every node is back (past its hold) and answers
// /healthz, or a minute.
func (t *trial) waitNodes(ctx context.Context) {
	for _, nd := range t.nodes {
		if err := nd.WaitHealthy(ctx, "", time.Minute); err != nil {
			t.log.Warn("node not back", "err", err)
		}
	}
}

func (t *trial) run(ctx context.Context) (Outcome, error) {
	o := t.opts
	seed := o.Seed + uint64(t.n)
	rng := rand.New(rand.NewPCG(seed, 0xc4a05))
	gen := filepath.Join(t.dir, "gen")
	files, err := benchmark.Generate(benchmark.Spec{Dir: gen, Rows: o.Rows * int64(o.Files), Files: o.Files, Seed: seed}, benchmark.Kraken)
	if err != nil {
		return Outcome{}, fmt.Errorf("generate: %w", err)
	}
	var expected int64
	for _, f := range files {
		expected += f.Rows
	}
	if err := os.MkdirAll(t.inbox(), 0o755); err != nil {
		return Outcome{}, err
	}
	n := 1
	if o.Cluster {
		n = 3
	}
	natsDir := filepath.Join(t.dir, "nats")
	if err := os.MkdirAll(natsDir, 0o755); err != nil {
		return Outcome{}, err
	}
	if t.nodes, err = StartNATS(ctx, o.NATSServer, natsDir, n, t.log); err != nil {
		return Outcome{}, err
	}
	var urls []string
	for _, nd := range t.nodes {
		urls = append(urls, nd.ClientURL)
	}
	table := fmt.Sprintf("chaos_%d_%d_%d", o.Seed, t.n, time.Now().Unix())
	env := []string{
		"FFF_NATS_URL=" + strings.Join(urls, ","),
		"FFF_REPLICAS=" + strconv.Itoa(n),
		"FFF_METRICS_ADDR=",
		"FFF_QUESTDB=" + t.qdb.ILP(), "FFF_QUESTDB_PG=" + t.qdb.PG(), "FFF_TABLE=" + table,
	}
	stage := func(name string, args ...string) *proc {
		return newProc(name, filepath.Join(t.bin, strings.SplitN(name, "-", 2)[0]), args, env, filepath.Join(t.dir, name+".log"), t.log)
	}
	t.watcher = stage("watcher", "--inbox", t.inbox(), "--settle", "500ms")
	for i := range o.Parsers {
		t.parsers = append(t.parsers, stage(fmt.Sprintf("parser-%d", i+1)))
	}
	for i := range o.Writers {
		t.writers = append(t.writers, stage(fmt.Sprintf("writer-%d", i+1)))
	}
	if t.nc, t.js, err = connect(strings.Join(urls, ",")); err != nil {
		return Outcome{}, err
	}
	defer t.nc.Close()

	superCtx, stopSupervising := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, p := range t.all() {
		if err := p.start(); err != nil {
			stopSupervising()
			return Outcome{}, err
		}
		p.supervise(superCtx, &wg)
	}
	defer func() {
		stopSupervising()
		wg.Wait()
		for _, p := range t.all() {
			p.stop()
		}
	}()

	f := &faulter{t: t, rng: rng}
	steps := plan(rng, o.Cluster, o.Kills)
	dropped := 0
	drop := func(upTo int) error {
		for ; dropped < upTo && dropped < len(files); dropped++ {
			src := files[dropped].Path
			if err := os.Rename(src, filepath.Join(t.inbox(), filepath.Base(src))); err != nil {
				return fmt.Errorf("drop %s: %w", src, err)
			}
		}
		return nil
	}
	perWave := (len(files) + o.Waves - 1) / o.Waves
	jsplumb.Sleep(ctx, 2*time.Second) // the first wave meets a running pipeline
	for i, kind := range steps {
		if wave := i * o.Waves / len(steps); (wave+1)*perWave > dropped {
			if err := drop((wave + 1) * perWave); err != nil {
				return Outcome{}, err
			}
		}
		pause := o.Gap/2 + time.Duration(rng.Int64N(int64(o.Gap)+1))
		if !jsplumb.Sleep(ctx, pause) {
			return Outcome{}, ctx.Err()
		}
		f.run(ctx, kind)
	}
	for f.kills < o.Kills {
		if !jsplumb.Sleep(ctx, o.Gap) {
			return Outcome{}, ctx.Err()
		}
		f.run(ctx, filler(rng))
	}
	if err := drop(len(files)); err != nil {
		return Outcome{}, err
	}
	f.wg.Wait() // the QuestDB outage is over
	t.waitNodes(ctx)
	lastFault := time.Now()
	t.log.Info("last fault over; waiting for the pipeline to settle")
	settled := waitSettled(ctx, t.inbox(), len(files), o.SettleTimeout)
	out := Outcome{Expected: expected, Settled: settled, Recover: time.Since(lastFault), Kills: f.kills, Terms: f.terms, FaultsSeen: f.ran}
	if errors.Is(ctx.Err(), context.Canceled) {
		return out, ctx.Err()
	}
	if out.Rows, out.Distinct, err = counts(ctx, t.qdb.PG(), table); err != nil {
		return out, fmt.Errorf("count rows: %w", err)
	}
	if out.DLQ, err = dlqDepth(ctx, t.js); err != nil {
		return out, err
	}
	out.Ingested = csvIn(filepath.Join(t.inbox(), "ingested"))
	out.Rejected = csvIn(filepath.Join(t.inbox(), "rejected"))
	for _, p := range t.all() {
		out.SelfExits += p.selfExited()
	}
	return out, nil
}
