package contract_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

const batchDoc = "../../schemas/candle_batch.md"

// docExampleBatch is the worked example in schemas/candle_batch.md.
func docExampleBatch() *contract.Batch {
	return &contract.Batch{
		Source: "kraken", Pair: "XBTUSD", Base: "BTC", Quote: "USD", IntervalMinutes: 60,
		Origin: contract.OriginAPI, FillID: "XBTUSD-60-1736496000-1736496000", BatchIndex: 0, Last: true,
		Candles: []contract.Candle{{Time: 1736496000, Open: 94500.1, High: 94800, Low: 94400.5, Close: 94700, VWAP: 94650.25, Volume: 12.5, Trades: 321}},
	}
}

func hexBytes(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}

// annotatedDump walks the encoding with the documented layout and explains
// every field, so the doc's example is produced by the real encoder.
func annotatedDump(data []byte) string {
	var sb strings.Builder
	row := func(off int, b []byte, what string) {
		for len(b) > 16 {
			fmt.Fprintf(&sb, "%4d  %-47s\n", off, hexBytes(b[:16]))
			b, off = b[16:], off+16
		}
		fmt.Fprintf(&sb, "%4d  %-47s  %s\n", off, hexBytes(b), what)
	}
	le := binary.LittleEndian
	row(0, data[0:4], `magic "FFCB"`)
	row(4, data[4:5], fmt.Sprintf("version %d", data[4]))
	row(5, data[5:6], fmt.Sprintf("origin %d (%s)", data[5], contract.Origin(data[5])))
	row(6, data[6:7], fmt.Sprintf("flags %d (bit 0 set: last batch)", data[6]))
	row(7, data[7:8], "reserved 0")
	row(8, data[8:12], fmt.Sprintf("interval_minutes uint32 = %d", le.Uint32(data[8:])))
	row(12, data[12:16], fmt.Sprintf("batch_index uint32 = %d", le.Uint32(data[12:])))
	row(16, data[16:20], fmt.Sprintf("count uint32 = %d", le.Uint32(data[16:])))
	off := 20
	for _, name := range []string{"source", "pair", "base", "quote", "file_id", "file_name", "fill_id"} {
		n := int(le.Uint16(data[off:]))
		row(off, data[off:off+2], fmt.Sprintf("%s length uint16 = %d", name, n))
		off += 2
		if n > 0 {
			row(off, data[off:off+n], fmt.Sprintf("%s = %q", name, data[off:off+n]))
			off += n
		}
	}
	count := int(le.Uint32(data[16:]))
	for _, col := range []string{"time", "open", "high", "low", "close", "vwap", "volume", "trades"} {
		for i := 0; i < count; i++ {
			v := le.Uint64(data[off:])
			var desc string
			switch col {
			case "time":
				desc = fmt.Sprintf("time[%d] int64 = %d", i, int64(v))
			case "trades":
				desc = fmt.Sprintf("trades[%d] int64 = %d", i, int64(v))
			default:
				desc = fmt.Sprintf("%s[%d] float64 = %v", col, i, math.Float64frombits(v))
			}
			row(off, data[off:off+8], desc)
			off += 8
		}
	}
	fmt.Fprintf(&sb, "%4d  (end: %d bytes)\n", off, off)
	return sb.String()
}

func xxd(data []byte) string {
	var sb strings.Builder
	for off := 0; off < len(data); off += 16 {
		end := min(off+16, len(data))
		line := data[off:end]
		ascii := make([]byte, len(line))
		for i, c := range line {
			ascii[i] = '.'
			if c >= 0x20 && c < 0x7f {
				ascii[i] = c
			}
		}
		fmt.Fprintf(&sb, "%08x  %-47s  |%s|\n", off, hexBytes(line), ascii)
	}
	return sb.String()
}

func generatedDocBlocks(t *testing.T) map[string]string {
	data, err := contract.EncodeBatch(docExampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	nan := make([]byte, 8)
	binary.LittleEndian.PutUint64(nan, math.Float64bits(contract.NoVWAP))
	minus1 := make([]byte, 8)
	noTrades := contract.NoTrades // a variable: the constant -1 does not convert to uint64
	binary.LittleEndian.PutUint64(minus1, uint64(noTrades))
	rendered, err := contract.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, rendered, "", "  "); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"example-xxd":       "```\n" + xxd(data) + "```\n",
		"example-annotated": "```\n" + annotatedDump(data) + "```\n",
		"example-json":      "```json\n" + pretty.String() + "\n```\n",
		"absent-values": fmt.Sprintf("- an absent VWAP, as the Go encoder writes it (`math.NaN()`), is the 8 bytes `%s`;\n"+
			"- an unknown trade count (-1) is the 8 bytes `%s`.\n", hexBytes(nan), hexBytes(minus1)),
	}
}

// TestCandleBatchDocIsGenerated keeps the worked example in
// schemas/candle_batch.md equal to what the encoder produces. Run with
// FFF_UPDATE_DOCS=1 to rewrite the generated blocks.
func TestCandleBatchDocIsGenerated(t *testing.T) {
	raw, err := os.ReadFile(batchDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for name, want := range generatedDocBlocks(t) {
		begin, end := "<!-- BEGIN GENERATED "+name+" -->\n", "<!-- END GENERATED "+name+" -->"
		i := strings.Index(doc, begin)
		j := strings.Index(doc, end)
		if i < 0 || j < i {
			t.Errorf("%s: no block %q ... %q", batchDoc, begin, end)
			continue
		}
		got := doc[i+len(begin) : j]
		if got == want {
			continue
		}
		if os.Getenv("FFF_UPDATE_DOCS") != "" {
			doc = doc[:i+len(begin)] + want + doc[j:]
			continue
		}
		t.Errorf("%s block %s is stale (FFF_UPDATE_DOCS=1 go test -run CandleBatchDoc ./pipeline/contract/ rewrites it):\n%s", batchDoc, name, want)
	}
	if os.Getenv("FFF_UPDATE_DOCS") != "" && doc != string(raw) {
		if err := os.WriteFile(batchDoc, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPythonReaderReadsBatches proves the documented layout is enough for
// another language: schemas/read_batch.py, written from the doc alone, must
// print what Render prints.
func TestPythonReaderReadsBatches(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	unicode := sampleBatch(3)
	unicode.Origin, unicode.FileID, unicode.FileName, unicode.FillID, unicode.Last = contract.OriginTrades, "", "", "gap:kraken.ÉTH.60:1", false
	unicode.Pair, unicode.Base = "ÉTHUSD", "ÉTH"
	unicode.Candles[0].VWAP, unicode.Candles[1].Trades = contract.NoVWAP, contract.NoTrades
	unicode.Candles[2].Open, unicode.Candles[2].Volume = 1e-7, 12345678901234.5
	batches := map[string]*contract.Batch{
		"doc example": docExampleBatch(),
		"csv":         sampleBatch(200),
		"empty":       sampleBatch(0),
		"unicode":     unicode,
	}
	dir := t.TempDir()
	for name, b := range batches {
		data, err := contract.EncodeBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".bin")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(py, "../../schemas/read_batch.py", path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: read_batch.py: %v\n%s", name, err, stderr.Bytes())
		}
		rendered, err := contract.Render(data)
		if err != nil {
			t.Fatal(err)
		}
		var fromPy, fromGo any
		if err := json.Unmarshal(out, &fromPy); err != nil {
			t.Fatalf("%s: python printed no JSON: %v\n%s", name, err, out)
		}
		if err := json.Unmarshal(rendered, &fromGo); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromPy, fromGo) {
			t.Errorf("%s: python reads\n%s\nGo renders\n%s", name, out, rendered)
		}
	}

	// It refuses what the Go decoder refuses.
	good, _ := contract.EncodeBatch(sampleBatch(2))
	for name, bad := range map[string][]byte{"truncated": good[:len(good)-1], "json": []byte(`{"pair":"XBTUSD"}`)} {
		path := filepath.Join(dir, name+".bad")
		os.WriteFile(path, bad, 0o644)
		if err := exec.Command(py, "../../schemas/read_batch.py", path).Run(); err == nil {
			t.Errorf("read_batch.py accepted a %s batch", name)
		}
	}
}
