package benchmark

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// The bars of the performance issue (docs/PERFORMANCE.md).
const (
	// barEndToEnd: candles/s into QuestDB until visible, on the 5M-row set
	// (the bulk-load issue's goal; the first performance issue's was 250,000).
	barEndToEnd = 600_000
	barNullSink = 500_000 // candles/s into the null ILP sink
	barRSSMB    = 200     // peak RSS of one stage on a 1 GB file
	barImpRatio = 0.5     // pipeline / QuestDB's /imp into a table without DEDUP
	// barImpDedupRatio: pipeline / /imp into a table with DEDUP on the
	// same keys, what the pipeline's own table has.
	barImpDedupRatio = 2.0
)

// Report is every figure of a run (the --json output).
type Report struct {
	Date     string          `json:"date"`
	Machine  Machine         `json:"machine"`
	Settings Settings        `json:"settings"`
	Set      SetInfo         `json:"set"`
	Parse    *ParseResult    `json:"parse,omitempty"`
	Codec    *CodecResult    `json:"codec,omitempty"`
	QuestDB  *PipelineResult `json:"end_to_end_questdb,omitempty"`
	Imp      *ImpResult      `json:"imp,omitempty"`
	// Ratio is the pipeline's rate over /imp's, both until the rows are visible.
	Ratio float64 `json:"ratio_pipeline_over_imp,omitempty"`
	// ImpDedup is /imp of the same rows into a table with DEDUP UPSERT
	// KEYS(ts, pair), and DedupRatio the pipeline's rate over it.
	ImpDedup   *ImpResult      `json:"imp_dedup,omitempty"`
	DedupRatio float64         `json:"ratio_pipeline_over_imp_dedup,omitempty"`
	DayTable   *PipelineResult `json:"end_to_end_questdb_partition_by_day,omitempty"`
	Null       *PipelineResult `json:"end_to_end_null_sink,omitempty"`
	RSS        *RSSResult      `json:"rss,omitempty"`
	Archive    *ArchiveResult  `json:"archive,omitempty"`
	Latency    *LatencyResult  `json:"continuous_latency,omitempty"`
	GapScan    *GapScanResult  `json:"gap_scan,omitempty"`
	Replay     *ReplayResult   `json:"replay,omitempty"`
	Bars       []Bar           `json:"bars"`
	CPUProf    string          `json:"cpu_profile,omitempty"`
	Failed     []string        `json:"failed,omitempty"`
	TotalSecs  float64         `json:"total_seconds"`
}

type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	MemoryMB int64  `json:"memory_mb"`
	Go       string `json:"go"`
	QuestDB  string `json:"questdb,omitempty"`
}

type Settings struct {
	Parsers         int    `json:"parsers"`
	ParserBatch     int    `json:"parser_batch_candles"`
	Writers         int    `json:"writers"`
	FlushRows       int    `json:"writer_flush_rows"`
	FlushInterval   string `json:"writer_flush_interval"`
	MaxAckPending   int    `json:"writer_max_ack_pending"`
	PartitionBy     string `json:"partition_by"`
	GOMAXPROCS      int    `json:"gomaxprocs"`
	QuestDBILP      string `json:"questdb_ilp,omitempty"`
	SkippedQuestDB  bool   `json:"skipped_questdb,omitempty"`
	RSSFileSizeByte int64  `json:"rss_file_size_bytes"`
	ArchiveRows     int64  `json:"archive_rows"`
}

type SetInfo struct {
	Files   int     `json:"files"`
	Rows    int64   `json:"rows"`
	Bytes   int64   `json:"bytes"`
	GenSecs float64 `json:"generate_seconds"`
}

type ParseResult struct {
	Rows          int64   `json:"rows"`
	Seconds       float64 `json:"seconds"`
	CandlesPerSec float64 `json:"candles_per_s"`
}

type CodecResult struct {
	Candles     int64   `json:"candles"`
	BatchSize   int     `json:"batch_size"`
	EncodeNs    float64 `json:"encode_ns_per_candle"`
	DecodeNs    float64 `json:"decode_ns_per_candle"`
	NsPerCandle float64 `json:"ns_per_candle"`
}

type PipelineResult struct {
	Table string `json:"table,omitempty"`
	Rows  int64  `json:"rows"`
	// CommittedSecs: until the ledger had every file COMMITTED (QuestDB
	// acknowledged every request); VisibleSecs: until the WAL was applied too
	// (count() sees every row). The rate is on VisibleSecs.
	CommittedSecs float64 `json:"committed_seconds"`
	VisibleSecs   float64 `json:"visible_seconds"`
	CandlesPerSec float64 `json:"candles_per_s"`
	CommittedRate float64 `json:"committed_candles_per_s"`
	// CPU seconds used meanwhile by this process (parser, writer, watcher,
	// JetStream) and by QuestDB's process when it runs on this machine.
	PipelineCPU float64 `json:"pipeline_cpu_seconds"`
	QuestDBCPU  float64 `json:"questdb_cpu_seconds,omitempty"`
	// WriteAmplification is the rows QuestDB's WAL apply wrote per row
	// applied during the run (its metrics; 1.0 is pure appends).
	WriteAmplification float64 `json:"questdb_write_amplification,omitempty"`
	// Redelivered messages of the writer's and parser's consumers: each
	// one held the run up for the consumer's AckWait (30s each).
	WriterRedelivered int   `json:"writer_redelivered"`
	ParserRedelivered int   `json:"parser_redelivered"`
	Requests          int64 `json:"requests,omitempty"`
	ILPBytes          int64 `json:"ilp_bytes,omitempty"`
}

type ImpResult struct {
	Table       string  `json:"table"`
	Rows        int64   `json:"rows"`
	Bytes       int64   `json:"bytes"`
	PostSecs    float64 `json:"post_seconds"`
	VisibleSecs float64 `json:"visible_seconds"`
	RowsPerSec  float64 `json:"rows_per_s"`
}

type RSSResult struct {
	FileBytes int64      `json:"file_bytes"`
	FileRows  int64      `json:"file_rows"`
	Stages    []StageRSS `json:"stages"`
}

type StageRSS struct {
	Stage   string  `json:"stage"`
	PeakMB  float64 `json:"peak_rss_mb"`
	Seconds float64 `json:"seconds"`
	What    string  `json:"what"`
}

type Bar struct {
	Figure string  `json:"figure"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Bar    string  `json:"bar"`
	OK     bool    `json:"ok"`
}

func ifSet(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}

func below(ok bool, bar string) string {
	if ok {
		return ""
	}
	return " [below bar: " + bar + "]"
}

func rateOf(r *PipelineResult) float64 {
	if r == nil {
		return 0
	}
	return r.CandlesPerSec
}

func bars(rep *Report) []Bar {
	var out []Bar
	if rep.QuestDB != nil {
		out = append(out, Bar{"end to end into QuestDB", rep.QuestDB.CandlesPerSec, "candles/s", "≥ " + thousands(barEndToEnd), rep.QuestDB.CandlesPerSec >= barEndToEnd})
	}
	if rep.Imp != nil && rep.QuestDB != nil {
		out = append(out, Bar{"pipeline / QuestDB /imp", rep.Ratio, "ratio", "≥ 0.5", rep.Ratio >= barImpRatio})
	}
	if rep.ImpDedup != nil && rep.QuestDB != nil {
		out = append(out, Bar{"pipeline / /imp with DEDUP", rep.DedupRatio, "ratio", "≥ 2.0", rep.DedupRatio >= barImpDedupRatio})
	}
	if rep.Null != nil {
		out = append(out, Bar{"end to end into the null sink", rep.Null.CandlesPerSec, "candles/s", "≥ 500,000", rep.Null.CandlesPerSec >= barNullSink})
	}
	if rep.RSS != nil {
		for _, s := range rep.RSS.Stages {
			out = append(out, Bar{"peak RSS " + s.Stage, s.PeakMB, "MB", "≤ 200", s.PeakMB <= barRSSMB})
		}
	}
	out = append(out, continuousBars(rep)...)
	return append(out, archiveBars(rep)...)
}

func (b *bench) summary() {
	rep := b.rep
	b.say("")
	b.say("%-34s %16s  %-12s %s", "figure", "value", "bar", "")
	row := func(name, val, bar, verdict string) {
		b.say("%-34s %16s  %-12s %s", name, val, bar, verdict)
	}
	if rep.Parse != nil {
		row("parse (one core)", thousands(int64(rep.Parse.CandlesPerSec))+" c/s", "", "")
	}
	if rep.Codec != nil {
		row("codec encode+decode", fmt.Sprintf("%.2f ns/c", rep.Codec.NsPerCandle), "", "")
	}
	if rep.Imp != nil {
		row("QuestDB /imp", thousands(int64(rep.Imp.RowsPerSec))+" r/s", "", "")
	}
	if rep.ImpDedup != nil {
		row("QuestDB /imp with DEDUP", thousands(int64(rep.ImpDedup.RowsPerSec))+" r/s", "", "")
	}
	if rep.DayTable != nil {
		row("end to end, PARTITION BY DAY", thousands(int64(rep.DayTable.CandlesPerSec))+" c/s", "", "")
	}
	archiveSummary(rep, row)
	for _, c := range rep.Bars {
		val := ""
		switch c.Unit {
		case "candles/s":
			val = thousands(int64(c.Value)) + " c/s"
		case "ratio":
			val = fmt.Sprintf("%.2f", c.Value)
		case "MB":
			val = fmt.Sprintf("%.0f MB", c.Value)
		case "s":
			val = fmt.Sprintf("%.3f s", c.Value)
		}
		verdict := "ok"
		if !c.OK {
			verdict = "BELOW BAR"
		}
		row(c.Figure, val, c.Bar, verdict)
	}
	if len(rep.Failed) > 0 {
		b.say("FAILED steps: %s", strings.Join(rep.Failed, "; "))
	}
}

// machine describes this computer for the report.
func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if kb, err := procKB("/proc/meminfo", "MemTotal"); err == nil {
		m.MemoryMB = kb / 1024
	}
	return m
}

func redeliveries(r *PipelineResult) string {
	if r.WriterRedelivered == 0 && r.ParserRedelivered == 0 {
		return ""
	}
	return fmt.Sprintf("; STALLED: %d writer and %d parser message(s) redelivered after their AckWait", r.WriterRedelivered, r.ParserRedelivered)
}

// thousands writes n with a comma between groups of three digits.
func thousands(n int64) string {
	digits := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, digits = "-", digits[1:]
	}
	var groups []string
	for len(digits) > 3 {
		groups = append([]string{digits[len(digits)-3:]}, groups...)
		digits = digits[:len(digits)-3]
	}
	return sign + strings.Join(append([]string{digits}, groups...), ",")
}

// humanBytes writes a size in B, KiB, MiB, … with one decimal.
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, units := float64(n)/1024, "KMGTPE"
	for i := 0; ; i++ {
		if v < 1024 || i == len(units)-1 {
			return fmt.Sprintf("%.1f %ciB", v, units[i])
		}
		v /= 1024
	}
}
