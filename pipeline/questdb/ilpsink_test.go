package questdb

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		err      error
		rejected bool
	}{
		{errors.New("400: Bad Request -- not json"), true},
		{errors.New("422: Unprocessable -- x"), true},
		{errors.New("401: Unauthorized -- x"), false},
		{errors.New("502: Bad Gateway"), false},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false},
		{context.DeadlineExceeded, false},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			if got := Rejected(classify(c.err)); got != c.rejected {
				t.Errorf("%v: rejected=%v, want %v", c.err, got, c.rejected)
			}
		})
	}
}

func TestSinkConf(t *testing.T) {
	c, err := SinkConf("http::addr=db:9000;username=a;password=b")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(c, "auto_flush=off;retry_timeout=0;max_buf_size=1073741824;") || !strings.Contains(c, "password=b;") {
		t.Fatalf("conf %q", c)
	}
	if _, err := SinkConf("tcp::addr=db:9009;"); err == nil {
		t.Fatal("tcp accepted")
	}
}
