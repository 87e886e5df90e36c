package chaos

import (
	"context"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
)

// A fault kind. Fillers are single kill -9s of one part; the others are the
// faults every trial must contain once (cluster ones only in cluster mode).
const (
	faultWatcher       = "kill watcher"
	faultParser        = "kill parser"
	faultWriter        = "kill writer"
	faultNode          = "kill nats node"
	faultQuestDB       = "kill questdb"
	faultOutage        = "questdb outage"
	faultCandlesLeader = "kill CANDLES leader"
	faultMetaLeader    = "kill meta leader"
	faultQuorum        = "two nodes down 10s"
	faultRolling       = "rolling TERM restart"
	faultNodeDownKills = "kill writer+parser while a node is down"
)

// fillers are the single kill -9s, weighted towards the stages.
var fillers = []string{faultWatcher, faultParser, faultParser, faultWriter, faultWriter, faultNode, faultQuestDB}

// plan is the trial's faults in order: the required ones once each among
// kills fillers (a filler can miss, e.g. QuestDB already down, so the trial
// adds more until the kill -9s reach the count).
func plan(rng *rand.Rand, cluster bool, kills int) []string {
	out := []string{faultOutage}
	if cluster {
		out = append(out, faultCandlesLeader, faultMetaLeader, faultQuorum, faultRolling, faultNodeDownKills)
	}
	for range kills {
		out = append(out, filler(rng))
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func filler(rng *rand.Rand) string { return fillers[rng.IntN(len(fillers))] }

// faulter runs faults against one trial's parts.
type faulter struct {
	t       *trial
	rng     *rand.Rand
	wg      sync.WaitGroup // the QuestDB outage's restart
	mu      sync.Mutex
	qdbDown bool
	kills   int
	terms   int
	ran     []string
}

func (f *faulter) hold() time.Duration { return time.Duration(f.rng.IntN(2000)) * time.Millisecond }

func (f *faulter) kill(p *proc, hold time.Duration) {
	if p.kill9(hold) {
		f.kills++
	}
}

// run performs one fault; it returns when the fault's own pause is over
// (a QuestDB outage goes on in the background).
func (f *faulter) run(ctx context.Context, kind string) {
	t := f.t
	f.ran = append(f.ran, kind)
	t.log.Info("fault", "kind", kind)
	switch kind {
	case faultWatcher:
		f.kill(t.watcher, f.hold())
	case faultParser:
		f.kill(t.parsers[f.rng.IntN(len(t.parsers))], f.hold())
	case faultWriter:
		f.kill(t.writers[f.rng.IntN(len(t.writers))], f.hold())
	case faultNode:
		f.kill(t.nodes[f.rng.IntN(len(t.nodes))].proc, time.Second+f.hold())
		t.waitNodes(ctx)
	case faultQuestDB:
		f.questDBDown(ctx, 0)
	case faultOutage:
		f.questDBDown(ctx, t.opts.QuestDBOutage)
	case faultCandlesLeader:
		f.killLeader(ctx, streamLeader(ctx, t.js, "CANDLES"))
	case faultMetaLeader:
		f.killLeader(ctx, metaLeader(t.nodes))
	case faultQuorum:
		i := f.rng.IntN(len(t.nodes))
		a, b := t.nodes[i], t.nodes[(i+1)%len(t.nodes)]
		until := time.Now().Add(10 * time.Second)
		a.hold(until)
		b.hold(until)
		f.kill(a.proc, time.Until(until))
		f.kill(b.proc, time.Until(until))
		jsplumb.Sleep(ctx, time.Until(until))
		t.waitNodes(ctx)
	case faultRolling:
		for _, nd := range t.nodes {
			if nd.signal(syscall.SIGTERM, 0) {
				f.terms++
			}
			t.waitNodes(ctx)
		}
	case faultNodeDownKills:
		nd := t.nodes[f.rng.IntN(len(t.nodes))]
		f.kill(nd.proc, 8*time.Second)
		jsplumb.Sleep(ctx, time.Second)
		f.kill(t.writers[f.rng.IntN(len(t.writers))], f.hold())
		f.kill(t.parsers[f.rng.IntN(len(t.parsers))], f.hold())
		jsplumb.Sleep(ctx, 7*time.Second)
		t.waitNodes(ctx)
	}
}

// killLeader kill -9s the named node (a random one when the leader is not
// known, e.g. mid-election) and waits until every node is back.
func (f *faulter) killLeader(ctx context.Context, name string) {
	t := f.t
	nd := nodeNamed(t.nodes, name)
	if nd == nil {
		t.log.Warn("leader not known; killing a random node", "leader", name)
		nd = t.nodes[f.rng.IntN(len(t.nodes))]
	}
	f.kill(nd.proc, 2*time.Second)
	t.waitNodes(ctx)
}

// questDBDown kill -9s QuestDB and starts it again after down (a kill while
// it is down already is skipped).
func (f *faulter) questDBDown(ctx context.Context, down time.Duration) {
	f.mu.Lock()
	if f.qdbDown {
		f.mu.Unlock()
		return
	}
	f.qdbDown = true
	f.mu.Unlock()
	if err := f.t.qdb.kill9(); err != nil {
		f.t.log.Error("kill questdb", "err", err)
	} else {
		f.kills++
	}
	restart := func() {
		jsplumb.Sleep(ctx, down)
		if err := f.t.qdb.start(context.WithoutCancel(ctx)); err != nil {
			f.t.log.Error("restart questdb", "err", err)
		}
		f.mu.Lock()
		f.qdbDown = false
		f.mu.Unlock()
	}
	// In the background either way: QuestDB takes seconds to start, and the
	// other faults go on meanwhile.
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		restart()
	}()
}
