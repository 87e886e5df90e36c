package testenv

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// CorruptFileData replaces the stored chunks of a FILEDATA object with
// bytes of the same length but one changed, as a bad read from a damaged
// replica would return them: the object's digest no longer matches. The
// last chunk goes bad, so a parser checking the digest only at the end would
// have published every batch before it.
func CorruptFileData(t testing.TB, js jetstream.JetStream, id string) {
	t.Helper()
	ctx := context.Background()
	store, err := js.ObjectStore(ctx, topology.BucketFileData)
	if err != nil {
		t.Fatal(err)
	}
	info, err := store.GetInfo(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "OBJ_"+topology.BucketFileData)
	if err != nil {
		t.Fatal(err)
	}
	subj := fmt.Sprintf("$O.%s.C.%s", topology.BucketFileData, info.NUID)
	var chunks [][]byte
	for seq := uint64(1); len(chunks) < int(info.Chunks); {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, m.Data)
		seq = m.Sequence + 1
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
		t.Fatal(err)
	}
	last := bytes.Clone(chunks[len(chunks)-1])
	last[len(last)/2] = '9'
	chunks[len(chunks)-1] = last
	for _, c := range chunks {
		if _, err := js.Publish(ctx, subj, c); err != nil {
			t.Fatal(err)
		}
	}
}

// DeleteFileData removes a FILEDATA object, as a lost store would.
func DeleteFileData(t testing.TB, js jetstream.JetStream, id string) {
	t.Helper()
	store, err := js.ObjectStore(context.Background(), topology.BucketFileData)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}
