package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
)

// NATSNode is one nats-server process (of a cluster, or alone), supervised
// like the stages. internal/s2repro starts its cluster with it too.
type NATSNode struct {
	*proc
	Name      string // server_name: n1, n2, ...
	ClientURL string
	Monitor   string // http://127.0.0.1:port
}

// StartNATS writes one config per node (sync_interval: always, so an
// acknowledged message is on disk before kill -9; 8 MB payloads, as
// nats-cluster.conf) and starts n nats-server processes, stores and logs in
// dir; n > 1 makes them a cluster. It returns once every node's /healthz
// passes.
func StartNATS(ctx context.Context, bin, dir string, n int, log *slog.Logger) ([]*NATSNode, error) {
	type ports struct{ client, monitor, route int }
	ps := make([]ports, n)
	for i := range ps {
		for _, p := range []*int{&ps[i].client, &ps[i].monitor, &ps[i].route} {
			v, err := natsembed.FreePort()
			if err != nil {
				return nil, err
			}
			*p = v
		}
	}
	var routes []string
	for _, p := range ps {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p.route))
	}
	nodes := make([]*NATSNode, n)
	for i, p := range ps {
		name := fmt.Sprintf("n%d", i+1)
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
max_payload: 8MB
jetstream {
  store_dir: %q
  sync_interval: always
}
`, name, p.client, p.monitor, filepath.Join(dir, name))
		if n > 1 {
			conf += fmt.Sprintf("cluster {\n  name: chaos\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n", p.route, strings.Join(routes, ", "))
		}
		cf := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", cf, err)
		}
		nodes[i] = &NATSNode{
			proc:      newProc("nats-"+name, bin, []string{"--config", cf}, nil, filepath.Join(dir, name+".log"), log),
			Name:      name,
			ClientURL: fmt.Sprintf("nats://127.0.0.1:%d", p.client),
			Monitor:   fmt.Sprintf("http://127.0.0.1:%d", p.monitor),
		}
		if err := nodes[i].start(); err != nil {
			return nil, err
		}
	}
	for _, nd := range nodes {
		if err := nd.WaitHealthy(ctx, "", 60*time.Second); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

// LogFile is where the node's output goes.
func (nd *NATSNode) LogFile() string { return nd.logf }

// Start starts a node that is down again, on its config and store.
func (nd *NATSNode) Start() error { return nd.start() }

// Kill9 is kill -9; it returns once the process has exited.
func (nd *NATSNode) Kill9() { nd.signal(syscall.SIGKILL, 0) }

// healthy asks the node's /healthz (JetStream included) with query
// ("?js-enabled-only=true" asks only that JetStream is on).
func (nd *NATSNode) healthy(query string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(nd.Monitor + "/healthz" + query)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// WaitHealthy waits up to d for the node's /healthz with query to pass.
func (nd *NATSNode) WaitHealthy(ctx context.Context, query string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for !nd.healthy(query) {
		if time.Now().After(deadline) {
			return fmt.Errorf("nats node %s not healthy after %s (log %s)", nd.Name, d, nd.logf)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// metaLeader is the JetStream meta leader as one running node's /jsz sees it.
func metaLeader(nodes []*NATSNode) string {
	c := http.Client{Timeout: time.Second}
	for _, nd := range nodes {
		if !nd.running() {
			continue
		}
		resp, err := c.Get(nd.Monitor + "/jsz")
		if err != nil {
			continue
		}
		var jsz struct {
			Meta *struct {
				Leader string `json:"leader"`
			} `json:"meta_cluster"`
		}
		err = json.NewDecoder(resp.Body).Decode(&jsz)
		resp.Body.Close()
		if err == nil && jsz.Meta != nil && jsz.Meta.Leader != "" {
			return jsz.Meta.Leader
		}
	}
	return ""
}

// streamLeader is the server leading stream name, asked over the JetStream API.
func streamLeader(ctx context.Context, js jetstream.JetStream, name string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		return ""
	}
	if info := s.CachedInfo(); info.Cluster != nil {
		return info.Cluster.Leader
	}
	return ""
}

func nodeNamed(nodes []*NATSNode, name string) *NATSNode {
	for _, nd := range nodes {
		if nd.Name == name {
			return nd
		}
	}
	return nil
}

// connect is the suite's own client (leaders, DLQ), reconnecting forever.
func connect(urls string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", urls, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}
