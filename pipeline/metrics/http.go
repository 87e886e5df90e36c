package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// WriteText writes every metric in the Prometheus text format, as /metrics
// serves it.
func (r *Registry) WriteText(w io.Writer) error {
	mfs, err := r.prom.Gather()
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if e := enc.Encode(mf); e != nil {
			return fmt.Errorf("encode %s: %w", mf.GetName(), e)
		}
	}
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	return nil
}

// Handler serves /metrics and /healthz; health returns nil when healthy.
func (r *Registry) Handler(health func() error) http.Handler {
	mux := http.NewServeMux()
	// ContinueOnError: one failing collector must not blank the page an
	// operator needs most when something is failing.
	mux.Handle("/metrics", promhttp.HandlerFor(r.prom, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if health != nil {
			if err := health(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// Serve serves the registry on addr until ctx ends. An empty addr is a no-op.
func Serve(ctx context.Context, addr string, r *Registry, health func() error, log *slog.Logger) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	return ServeListener(ctx, l, r, health, log)
}

// ServeListener serves the registry on l until ctx ends, then closes l. A
// caller that listens first learns of a taken port before it starts work.
func ServeListener(ctx context.Context, l net.Listener, r *Registry, health func() error, log *slog.Logger) error {
	srv := &http.Server{Handler: r.Handler(health), ReadHeaderTimeout: 5 * time.Second}
	if log != nil {
		log.Info("serving metrics", "addr", l.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("metrics server: %w", err)
	}
}

// Connected is a health check that fails while the NATS connection is down:
// a stage cut off from NATS does no work, whatever else it reports.
func Connected(nc interface{ IsConnected() bool }) func() error {
	return func() error {
		if !nc.IsConnected() {
			return errors.New("not connected to NATS")
		}
		return nil
	}
}
