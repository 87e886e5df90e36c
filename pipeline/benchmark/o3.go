package benchmark

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

// walCounters are QuestDB's own counts of what its WAL apply wrote: rows
// applied, and rows physically written, which is more when out-of-order
// data made it rewrite partitions. Their ratio over a step is the write
// amplification of that step's load (QuestDB logs the same per apply job as
// "ampl"). The counters are server-wide: another load meanwhile adds to them.
type walCounters struct{ applied, physical float64 }

// metricsURL is QuestDB's Prometheus endpoint (metrics.enabled=true, as
// scripts/questdb.sh sets), on the min HTTP port of the ILP host.
func (b *bench) metricsURL() string {
	if b.o.QuestDBMetrics != "" {
		return b.o.QuestDBMetrics
	}
	_, addr, err := questdb.ILPAddr(b.o.QuestDB.ILP)
	if err != nil {
		return ""
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return "http://" + net.JoinHostPort(host, "9003") + "/metrics"
}

func (b *bench) walCounters(ctx context.Context) (walCounters, bool) {
	url := b.metricsURL()
	if url == "" {
		return walCounters{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return walCounters{}, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return walCounters{}, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return walCounters{}, false
	}
	var c walCounters
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "questdb_wal_apply_written_rows_total":
			dst = &c.applied
		case "questdb_wal_apply_physically_written_rows_total":
			dst = &c.physical
		default:
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			*dst = v
			found++
		}
	}
	return c, found == 2
}

// amplification is physical over applied rows between two readings (0 when
// either reading is missing or nothing was applied).
func amplification(before, after walCounters, okBefore, okAfter bool) float64 {
	applied := after.applied - before.applied
	if !okBefore || !okAfter || applied <= 0 {
		return 0
	}
	return (after.physical - before.physical) / applied
}

func amplificationNote(a float64) string {
	if a == 0 {
		return ""
	}
	return fmt.Sprintf("; QuestDB wrote %.2f rows per row applied (out-of-order merges)", a)
}
