package testenv

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
)

// Cluster is n embedded JetStream nodes routed to each other, named c1..cn.
type Cluster struct {
	Nodes   []*natsembed.Server
	mu      sync.Mutex
	stopped map[int]bool
}

// StartCluster starts n nodes together (a node's JetStream waits for its
// peers) and stops them when the test ends. Route ports must be known
// before any node starts, so they are picked free and bound a moment later:
// when another process took one in between (the server says "address
// already in use"), the cluster is started again on new ports, twice at most.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	var err error
	for range 3 {
		var c *Cluster
		if c, err = startCluster(t, n); err == nil {
			return c
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
		t.Logf("cluster start: %v; again on other ports", err)
	}
	t.Fatal(err)
	return nil
}

func startCluster(t testing.TB, n int) (*Cluster, error) {
	routePorts := make([]int, n)
	routes := make([]string, n)
	for i := range n {
		p, err := natsembed.FreePort()
		if err != nil {
			return nil, err
		}
		routePorts[i], routes[i] = p, fmt.Sprintf("nats-route://127.0.0.1:%d", p)
	}
	c := &Cluster{Nodes: make([]*natsembed.Server, n), stopped: map[int]bool{}}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c.Nodes[i], errs[i] = natsembed.Start(natsembed.Config{
				StoreDir: t.TempDir(), ServerName: fmt.Sprintf("c%d", i+1),
				ClusterName: "testenv", ClusterPort: routePorts[i], Routes: routes,
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, s := range c.Nodes {
				if s != nil {
					s.Stop()
				}
			}
			return nil, fmt.Errorf("node c%d: %w", i+1, err)
		}
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, s := range c.Nodes {
			if !c.stopped[i] {
				s.Stop()
			}
		}
	})
	return c, nil
}

// URLs is every node's client URL, comma-separated, as stages take them.
func (c *Cluster) URLs() string {
	u := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		u[i] = s.URL()
	}
	return strings.Join(u, ",")
}

// Stop shuts down the node called name (a stream's leader, say).
func (c *Cluster) Stop(t testing.TB, name string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.Nodes {
		if s.Name() == name {
			s.Stop()
			c.stopped[i] = true
			return
		}
	}
	t.Fatalf("no node is called %q", name)
}
