// Package natsembed runs a NATS server with JetStream inside the process: the
// single-command mode (`fff up`) and the tests use it instead of a separate
// nats-server.
package natsembed

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config says where the embedded server listens and stores.
type Config struct {
	Host     string // default 127.0.0.1
	Port     int    // 0 (or -1) lets the server pick a free port
	StoreDir string // JetStream store directory (required)
	// MaxPayload caps one message; default 8 MB, room for large batches.
	MaxPayload int32
	// ServerName names the node (needed in a cluster).
	ServerName string
	// Cluster, when set, joins this node to a cluster on ClusterPort with Routes.
	ClusterName string
	ClusterPort int
	Routes      []string
	// Logs turns on the server's own logging (noisy; off by default).
	Logs bool
}

// Server is a running embedded server.
type Server struct {
	*server.Server
}

// Start starts the server and waits until it accepts clients.
func Start(cfg Config) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("embedded nats: a JetStream store directory is required")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	// Port 0 lets the server bind a free port itself: a port picked here and
	// bound there could be taken in between by another process (seen in CI
	// as a node that never became ready).
	port := cfg.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = 8 << 20
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       cfg.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		MaxPayload: cfg.MaxPayload,
		NoSigs:     true,
		NoLog:      !cfg.Logs,
	}
	if cfg.ClusterName != "" {
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: cfg.Host, Port: cfg.ClusterPort}
		for _, r := range cfg.Routes {
			opts.Routes = append(opts.Routes, server.RoutesFromStr(r)...)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	// Without its own logging the server's errors are kept, so that a start
	// that fails (a port taken, a store it cannot open) says why.
	errs := &startErrors{}
	if cfg.Logs {
		s.ConfigureLogger()
	} else {
		s.SetLogger(errs, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		where := fmt.Sprintf("%s:%d", cfg.Host, port)
		if port == server.RANDOM_PORT {
			where = cfg.Host + " (a free port)"
		}
		if e := errs.String(); e != "" {
			return nil, fmt.Errorf("embedded nats on %s did not become ready: %s", where, e)
		}
		return nil, fmt.Errorf("embedded nats on %s did not become ready in 15 s", where)
	}
	return &Server{s}, nil
}

// startErrors is the server's logger when its own logging is off: it keeps
// the first few fatal errors and errors, and drops everything else. Fatal
// ones (a port taken, a store it cannot open) are what a failed start says.
type startErrors struct {
	mu            sync.Mutex
	fatals, other []string
}

func keep(mu *sync.Mutex, to *[]string, format string, v []any) {
	mu.Lock()
	defer mu.Unlock()
	if len(*to) < 3 {
		*to = append(*to, fmt.Sprintf(format, v...))
	}
}

func (e *startErrors) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.fatals) > 0 {
		return strings.Join(e.fatals, "; ")
	}
	return strings.Join(e.other, "; ")
}

func (e *startErrors) Fatalf(format string, v ...any) { keep(&e.mu, &e.fatals, format, v) }
func (e *startErrors) Errorf(format string, v ...any) { keep(&e.mu, &e.other, format, v) }
func (*startErrors) Noticef(string, ...any)           {}
func (*startErrors) Warnf(string, ...any)             {}
func (*startErrors) Debugf(string, ...any)            {}
func (*startErrors) Tracef(string, ...any)            {}

// URL is the client URL of the server.
func (s *Server) URL() string { return s.ClientURL() }

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return strconv.Atoi(p)
}
