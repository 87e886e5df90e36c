package deadletter_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// A dead letter is never what fails: one whose original message, beside the
// letter's headers, would pass the server's max payload is stored with its
// data cut and a header saying the original length; a reason of any size
// and shape is clipped to one header line. A cut letter is not replayed.
func TestLettersFitTheMaxPayload(t *testing.T) {
	env := testenv.StartJetStream(t)
	ctx := testenv.Context(t, 30*time.Second)
	q, err := deadletter.Open(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	limit := int(env.Conn.MaxPayload())
	huge := strings.Repeat("reason line\n", 100_000) // 1.2 MB, with newlines
	cases := []struct {
		name      string
		size      int
		reason    string
		truncated bool
	}{
		{"small", 1000, "bad", false},
		{"at the limit", limit - 64, "bad", true},
		{"max payload", limit, "bad", true},
		{"huge reason", 1000, huge, false},
		{"huge reason at the limit", limit - 1, huge, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{byte('a' + i)}, c.size)
			err := deadletter.Publish(ctx, env.JS, deadletter.Letter{
				Stage: "parser", Subject: topology.SubjectFiles, Stream: topology.StreamFiles,
				Sequence: uint64(100 + i), Deliveries: 5, Data: data, Reason: c.reason,
			})
			if err != nil {
				t.Fatalf("publish a letter of %d bytes: %v", c.size, err)
			}
			info, err := env.JS.Stream(ctx, topology.StreamDLQ)
			if err != nil {
				t.Fatal(err)
			}
			st, err := info.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			seq := st.State.LastSeq
			m, err := q.Get(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			reason := m.Header.Get(deadletter.HeaderReason)
			if strings.ContainsAny(reason, "\r\n") || len(reason) > contract.MaxReasonBytes+40 {
				t.Errorf("reason header of %d bytes (multi-line: %v)", len(reason), strings.ContainsAny(reason, "\r\n"))
			}
			got := m.Header.Get(deadletter.HeaderTruncated)
			if !c.truncated {
				if got != "" || !bytes.Equal(m.Data, data) {
					t.Errorf("truncated %q, %d of %d bytes kept", got, len(m.Data), len(data))
				}
				return
			}
			if got != strconv.Itoa(c.size) {
				t.Errorf("%s = %q, want %d", deadletter.HeaderTruncated, got, c.size)
			}
			if len(m.Data) == 0 || len(m.Data) >= c.size || !bytes.Equal(m.Data, data[:len(m.Data)]) {
				t.Errorf("kept %d of %d bytes; want a leading part", len(m.Data), c.size)
			}
			if _, err := q.Replay(ctx, seq); err == nil || !strings.Contains(err.Error(), "cannot be replayed") {
				t.Errorf("replay of a cut letter: %v", err)
			}
		})
	}
}
