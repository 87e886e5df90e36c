package main

import (
	"encoding/json"
	"io"
	"strings"
	"text/tabwriter"
)

// table starts a text table on out with its header row; write the rows tab
// separated, then Flush.
func table(out io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
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
