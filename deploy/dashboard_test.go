package deploy

import (
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The dashboard and its datasources (deploy/grafana) and the scrape config
// (deploy/prometheus): every query names something that exists, every stage
// is scraped, and compose.yaml runs both with them mounted.

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Title      string     `json:"title"`
	Type       string     `json:"type"`
	Datasource datasource `json:"datasource"`
	Targets    []struct {
		Datasource datasource `json:"datasource"`
		Expr       string     `json:"expr"`
		RawSQL     string     `json:"rawSql"`
	} `json:"targets"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, _ := filepath.Glob("grafana/dashboards/*.json")
	if len(files) == 0 {
		t.Fatal("no dashboards in deploy/grafana/dashboards")
	}
	out := map[string]dashboard{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s is not valid JSON: %v", f, err)
		}
		if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
			t.Fatalf("%s: uid %q title %q, %d panels", f, d.UID, d.Title, len(d.Panels))
		}
		out[f] = d
	}
	return out
}

// A metric is registered by a Counter, Gauge or Histogram call with its
// name, or through a Name constant (metrics.ConsumerPendingName).
var registerRe = regexp.MustCompile(`(?:\.(?:Counter|Gauge|Histogram)\(\s*|[A-Za-z]+Name\s+=\s+)"(fff_[a-z_]+)"`)

// registeredMetrics greps the metric names the Go sources register.
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, dir := range []string{"cmd", "internal", "pipeline"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range registerRe.FindAllSubmatch(src, -1) {
				names[string(m[1])] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !names["fff_writer_rows_committed_total"] {
		t.Fatalf("grep found %d metrics and not fff_writer_rows_committed_total: the pattern is stale", len(names))
	}
	return names
}

// candleColumns reads the candle table's columns from the migrations.
func candleColumns(t *testing.T) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "schemas", "questdb", "*.up.sql"))
	cols := map[string]bool{}
	colRe := regexp.MustCompile(`(?m)^\s+([a-z_]+) (?:TIMESTAMP|SYMBOL|INT|LONG|DOUBLE|VARCHAR|BOOLEAN)\b`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range colRe.FindAllSubmatch(src, -1) {
			cols[string(m[1])] = true
		}
	}
	if !cols["ts"] || !cols["close"] {
		t.Fatalf("columns %v: the migrations in schemas/questdb do not read as expected", cols)
	}
	return cols
}

var (
	metricRe   = regexp.MustCompile(`\bfff_[a-z_]+`)
	sqlWordRe  = regexp.MustCompile(`\$?[A-Za-z_][A-Za-z_0-9]*`)
	sqlQuoted  = regexp.MustCompile(`'[^']*'`)
	fromRe     = regexp.MustCompile(`(?i)\bFROM\s+([a-z_]+)`)
	sqlKeyword = map[string]bool{"select": true, "from": true, "where": true, "and": true, "or": true, "order": true,
		"by": true, "as": true, "asc": true, "desc": true, "limit": true, "sample": true, "fill": true, "not": true, "null": true}
)

// sqlColumns lists the identifiers a query reads: not keywords, aliases
// (after AS), Grafana variables and macros ($...), or the table.
func sqlColumns(sql string) []string {
	var out []string
	words := sqlWordRe.FindAllString(sqlQuoted.ReplaceAllString(sql, "''"), -1)
	for i, w := range words {
		lw := strings.ToLower(w)
		switch {
		case sqlKeyword[lw], strings.HasPrefix(w, "$"), i > 0 && strings.EqualFold(words[i-1], "as"), i > 0 && strings.EqualFold(words[i-1], "from"):
		default:
			out = append(out, w)
		}
	}
	return out
}

func TestDashboardQueriesNameWhatExists(t *testing.T) {
	metrics, cols := registeredMetrics(t), candleColumns(t)
	dss := provisionedDatasources(t)
	for file, d := range loadDashboards(t) {
		var titles []string
		for _, p := range d.Panels {
			titles = append(titles, p.Title)
			t.Run(filepath.Base(file)+"/"+p.Title, func(t *testing.T) {
				if len(p.Targets) == 0 {
					t.Fatal("panel has no queries")
				}
				for _, q := range p.Targets {
					ds := q.Datasource
					if ds.UID == "" {
						ds = p.Datasource
					}
					if dss[ds.UID] != ds.Type {
						t.Errorf("datasource %+v is not provisioned (have %v)", ds, dss)
					}
					switch ds.Type {
					case "prometheus":
						names := metricRe.FindAllString(q.Expr, -1)
						if len(names) == 0 {
							t.Errorf("query %q names no fff_ metric", q.Expr)
						}
						for _, n := range names {
							// A histogram is scraped as its _bucket, _sum and _count series.
							base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
							if !metrics[n] && !metrics[base] {
								t.Errorf("query %q: no Go source registers %s", q.Expr, n)
							}
						}
					case "questdb-questdb-datasource":
						m := fromRe.FindStringSubmatch(q.RawSQL)
						if m == nil || m[1] != "candles" {
							t.Errorf("SQL %q does not read the candle table (candles)", q.RawSQL)
						}
						for _, c := range sqlColumns(q.RawSQL) {
							if !cols[c] {
								t.Errorf("SQL %q: no column %q in schemas/questdb", q.RawSQL, c)
							}
						}
					default:
						t.Errorf("query on datasource type %q", ds.Type)
					}
				}
			})
		}
		for _, want := range []string{"Candles ingested per minute", "Consumer lag", "Dead letters", "Gaps by state", "Files in flight"} {
			if !slices.Contains(titles, want) {
				t.Errorf("%s has no %q panel (panels: %v)", file, want, titles)
			}
		}
		candlestick := slices.ContainsFunc(d.Panels, func(p panel) bool {
			return p.Type == "candlestick" && p.Datasource.Type == "questdb-questdb-datasource"
		})
		if !candlestick {
			t.Errorf("%s has no candlestick panel on QuestDB", file)
		}
	}
}

func TestSQLColumns(t *testing.T) {
	got := sqlColumns("SELECT ts AS time, open FROM candles WHERE pair = '$pair AND x' AND $__timeFilter(ts) ORDER BY ts")
	if want := []string{"ts", "open", "pair", "ts", "ts"}; !slices.Equal(got, want) {
		t.Fatalf("sqlColumns: %v, want %v", got, want)
	}
}

// provisionedDatasources maps uid to type.
func provisionedDatasources(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("grafana/provisioning/datasources/datasources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Datasources []struct {
			UID, Type, URL string
			JSONData       map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("datasources.yaml: %v", err)
	}
	out := map[string]string{}
	for _, d := range f.Datasources {
		out[d.UID] = d.Type
		switch d.Type {
		case "prometheus":
			if d.URL != "http://prometheus:9090" {
				t.Errorf("Prometheus datasource url %q, want the compose service http://prometheus:9090", d.URL)
			}
		case "questdb-questdb-datasource":
			if d.JSONData["server"] != "questdb" || d.JSONData["port"] != 8812 {
				t.Errorf("QuestDB datasource %v: want server questdb, port 8812 (PG wire)", d.JSONData)
			}
		}
	}
	return out
}

// TestPrometheusScrapesEveryStage: each stage compose.yaml runs is scraped
// on the port of its --metrics-addr; promtool agrees the file is valid.
func TestPrometheusScrapesEveryStage(t *testing.T) {
	raw, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
			DNS     []struct {
				Names []string
				Type  string
				Port  int
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	scraped := map[string]int{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, d := range sc.DNS {
			for _, n := range d.Names {
				scraped[n] = d.Port
			}
		}
	}
	c := loadCompose(t)
	for _, name := range fffServices {
		_, _, flags := split(c.Services[name].Command)
		_, port, err := net.SplitHostPort(flags["metrics-addr"])
		if err != nil {
			t.Errorf("service %s: --metrics-addr %q: %v", name, flags["metrics-addr"], err)
			continue
		}
		if got := scraped[name]; port != strconv.Itoa(got) {
			t.Errorf("stage %s serves /metrics on %s, prometheus.yml scrapes it on %d", name, port, got)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH (apt-get install prometheus): config checked by shape only")
	}
	if out, err := exec.Command(promtool, "check", "config", "--syntax-only", "prometheus/prometheus.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

// TestComposeMonitoring: Prometheus and Grafana from pinned official images,
// with this folder's config and provisioning mounted and QuestDB's plugin.
func TestComposeMonitoring(t *testing.T) {
	c := loadCompose(t)
	pinned := regexp.MustCompile(`^(prom/prometheus|grafana/grafana):v?\d+\.\d+\.\d+$`)
	for name, mount := range map[string][]string{
		"prometheus": {"./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"},
		"grafana":    {"./deploy/grafana/provisioning:/etc/grafana/provisioning:ro", "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro"},
	} {
		svc, ok := c.Services[name]
		if !ok {
			t.Errorf("compose.yaml has no %s service", name)
			continue
		}
		if !pinned.MatchString(svc.Image) {
			t.Errorf("%s image %q: want an official image pinned to a release", name, svc.Image)
		}
		for _, m := range mount {
			if !slices.Contains(svc.Volumes, m) {
				t.Errorf("%s does not mount %s (volumes %v)", name, m, svc.Volumes)
			}
		}
	}
	g := c.Services["grafana"]
	if !strings.Contains(g.Environment["GF_INSTALL_PLUGINS"], "questdb-questdb-datasource") {
		t.Errorf("grafana GF_INSTALL_PLUGINS %q lacks questdb-questdb-datasource", g.Environment["GF_INSTALL_PLUGINS"])
	}
	if !strings.Contains(g.Environment["GF_SECURITY_ADMIN_PASSWORD"], ":?") {
		t.Errorf("grafana admin password %q: want ${GRAFANA_PASSWORD:?...}, no default", g.Environment["GF_SECURITY_ADMIN_PASSWORD"])
	}
	if g.DependsOn["prometheus"].Condition == "" || g.DependsOn["questdb"].Condition == "" {
		t.Errorf("grafana does not wait for its datasources: %v", g.DependsOn)
	}
}
