package main

import (
	"io"
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

// dash stands for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
