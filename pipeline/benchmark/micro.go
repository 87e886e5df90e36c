package benchmark

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// parse runs the parser's reader over every file on one goroutine.
func (b *bench) parse(files []File) (*ParseResult, error) {
	var rows int64
	start := time.Now()
	for _, f := range files {
		fh, err := os.Open(f.Path)
		if err != nil {
			return nil, err
		}
		rd := parser.NewReader(fh, 1)
		var c contract.Candle
		for {
			err := rd.Next(&c)
			if err == io.EOF {
				break
			}
			if err != nil {
				fh.Close()
				return nil, fmt.Errorf("%s: %w", filepath.Base(f.Path), err)
			}
		}
		fh.Close()
		if rd.Rows() != f.Rows {
			return nil, fmt.Errorf("%s: read %d rows, generated %d", filepath.Base(f.Path), rd.Rows(), f.Rows)
		}
		rows += rd.Rows()
	}
	el := time.Since(start).Seconds()
	return &ParseResult{Rows: rows, Seconds: el, CandlesPerSec: float64(rows) / el}, nil
}

// codec encodes and decodes a parser-sized batch of real rows until as many
// candles as the set holds went through.
func (b *bench) codec(path string) (*CodecResult, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	size := parser.DefaultBatchSize
	batch := contract.Batch{Source: topology.SourceKraken, Pair: "XBTUSD", Base: "BTC", Quote: "USD", IntervalMinutes: 1,
		Origin: contract.OriginCSV, FileID: strings.Repeat("ab", 32), FileName: "XBTUSD_1.csv"}
	rd := parser.NewReader(fh, 1)
	var c contract.Candle
	for len(batch.Candles) < size {
		err := rd.Next(&c)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		batch.Candles = append(batch.Candles, c)
	}
	if len(batch.Candles) == 0 {
		return nil, errors.New("no candles to encode")
	}
	n := len(batch.Candles)
	rounds := max(1, int(b.o.Rows)/n)
	var buf []byte
	var dec contract.Batch
	var encT, decT time.Duration
	for range rounds {
		t := time.Now()
		buf, err = contract.AppendBatch(buf[:0], &batch)
		if err != nil {
			return nil, err
		}
		t2 := time.Now()
		if err := contract.DecodeBatch(buf, &dec); err != nil {
			return nil, err
		}
		encT += t2.Sub(t)
		decT += time.Since(t2)
	}
	if len(dec.Candles) != n || dec.Candles[n-1].Time != batch.Candles[n-1].Time || dec.Candles[n-1].Close != batch.Candles[n-1].Close {
		return nil, errors.New("decoded batch differs from the encoded one")
	}
	total := float64(rounds * n)
	r := &CodecResult{Candles: int64(total), BatchSize: n, EncodeNs: float64(encT.Nanoseconds()) / total, DecodeNs: float64(decT.Nanoseconds()) / total}
	r.NsPerCandle = r.EncodeNs + r.DecodeNs
	return r, nil
}
