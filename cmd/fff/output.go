package main

import (
	"encoding/json"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// columns aligns tab separated cells on out as every listing of fff does;
// Flush when done.
func columns(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
}

// table starts a text table on out with its header row; write the rows tab
// separated, then Flush.
func table(out io.Writer, header ...string) *tabwriter.Writer {
	tw := columns(out)
	_, _ = io.WriteString(tw, strings.Join(header, "\t")+"\n")
	return tw
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// dash stands for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// isTerminal: a character device other than /dev/null (which is one too).
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return false
	}
	return true
}
