package questdb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// NullServer answers like QuestDB's HTTP endpoint without storing anything:
// /settings announces ILP v2, /write drains the body and says 204. It
// measures the client side of the pipeline alone.
type NullServer struct {
	srv      *http.Server
	ln       net.Listener
	Bytes    atomic.Int64
	Requests atomic.Int64
}

// StartNullServer listens on a free port of 127.0.0.1.
func StartNullServer() (*NullServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	n := &NullServer{ln: ln}
	n.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/settings":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"config":{"line.proto.support.versions":[1,2],"cairo.max.file.name.length":127}}`)
		case "/write":
			c, _ := io.Copy(io.Discard, r.Body)
			n.Bytes.Add(c)
			n.Requests.Add(1)
			w.WriteHeader(http.StatusNoContent)
		case "/ping":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.srv.Serve(ln) }()
	return n, nil
}

// Addr is host:port.
func (n *NullServer) Addr() string { return n.ln.Addr().String() }

// ILP is the ILP client configuration pointing at the sink.
func (n *NullServer) ILP() string { return "http::addr=" + n.Addr() + ";" }

// Close stops the server.
func (n *NullServer) Close() error { return n.srv.Close() }

// ImpResult is QuestDB's answer to one /imp request.
type ImpResult struct {
	Status       string `json:"status"`
	RowsImported int64  `json:"rowsImported"`
	RowsRejected int64  `json:"rowsRejected"`
}

// Import posts one CSV file to QuestDB's /imp (baseURL like
// http://127.0.0.1:9000) into table, streaming it from disk. The table should
// exist with the columns of the file's header; params are added to the query
// (e.g. timestamp, partitionBy).
func Import(ctx context.Context, client *http.Client, baseURL, table, path string, params url.Values) (ImpResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return ImpResult{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ImpResult{}, err
	}
	// QuestDB wants a Content-Length (it resets a chunked upload), so the
	// multipart envelope is built around the file rather than streamed.
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	if _, err := mw.CreateFormFile("data", filepath.Base(path)); err != nil {
		return ImpResult{}, err
	}
	headLen := head.Len()
	if err := mw.Close(); err != nil {
		return ImpResult{}, err
	}
	tailPart := append([]byte(nil), head.Bytes()[headLen:]...) // "\r\n--boundary--\r\n"
	head.Truncate(headLen)
	upload := io.MultiReader(bytes.NewReader(head.Bytes()), f, bytes.NewReader(tailPart))
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	q.Set("name", table)
	q.Set("fmt", "json")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/imp?"+q.Encode(), upload)
	if err != nil {
		return ImpResult{}, err
	}
	req.ContentLength = int64(head.Len()) + fi.Size() + int64(len(tailPart))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := client.Do(req)
	if err != nil {
		return ImpResult{}, fmt.Errorf("/imp %s: %w", filepath.Base(path), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var r ImpResult
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != http.StatusOK || r.Status != "OK" {
		return r, fmt.Errorf("/imp %s: %s: %s", filepath.Base(path), resp.Status, bytes.TrimSpace(body))
	}
	return r, nil
}
