package watcher

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// moveInto moves a file into dir without ever overwriting: on a name clash
// the new name gets a numeric suffix (XBTUSD_60.csv.1). It returns the new
// path.
func moveInto(dir, path string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	base := filepath.Base(path)
	for i := 0; i < 10000; i++ {
		target := filepath.Join(dir, base)
		if i > 0 {
			target += "." + strconv.Itoa(i)
		}
		// A hard link fails when the target exists, so two movers never
		// overwrite each other's file.
		err := os.Link(path, target)
		if err == nil {
			if err := os.Remove(path); err != nil {
				return target, fmt.Errorf("remove %s after linking it into %s: %w", path, dir, err)
			}
			return target, nil
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if _, serr := os.Lstat(target); serr == nil {
			continue
		}
		// No hard links here (another file system, or not supported).
		if err := os.Rename(path, target); err == nil {
			return target, nil
		}
		if err := copyThenRemove(path, target); err != nil {
			return "", err
		}
		return target, nil
	}
	return "", fmt.Errorf("no free name for %s in %s", base, dir)
}

func copyThenRemove(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("move %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("move %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("sync %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("close %s: %w", dst, err)
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("remove %s after copying it to %s: %w", src, dst, err)
	}
	return nil
}

// writeNote writes a report or reason file beside a moved file, without
// overwriting anything. It appears whole: written under a hidden temporary
// name first, then linked into place.
func writeNote(path, text string) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes it 0600; the inbox is often a bind mount read by
	// other users (the host's), who must be able to read why.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	for i := 0; i < 10000; i++ {
		p := path
		if i > 0 {
			ext := filepath.Ext(path)
			p = strings.TrimSuffix(path, ext) + "." + strconv.Itoa(i) + ext
		}
		err := os.Link(tmp.Name(), p)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if _, serr := os.Lstat(p); serr == nil {
			continue
		}
		// No hard links here: rename (the name was free a moment ago).
		if err := os.Rename(tmp.Name(), p); err != nil {
			return "", fmt.Errorf("write %s: %w", p, err)
		}
		return p, nil
	}
	return "", fmt.Errorf("no free name for %s", path)
}

const timeFmt = "2006-01-02 15:04:05 MST"

func badRows(b *strings.Builder, e contract.LedgerEntry) {
	if len(e.Errors) == 0 {
		return
	}
	fmt.Fprintf(b, "\nbad rows (%d in all", e.RowsRejected)
	if int64(len(e.Errors)) < e.RowsRejected {
		fmt.Fprintf(b, ", the first %d listed", len(e.Errors))
	}
	b.WriteString("):\n")
	for _, re := range e.Errors {
		fmt.Fprintf(b, "  line %d: %s", re.Line, re.Reason)
		if re.Text != "" {
			fmt.Fprintf(b, "  | %s", re.Text)
		}
		b.WriteString("\n")
	}
}

// committedReport is written beside a committed file that had bad rows.
func committedReport(e contract.LedgerEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: committed to QuestDB with %d bad row(s) skipped\n\n", e.Name, e.RowsRejected)
	fmt.Fprintf(&b, "file id:        %s\n", e.FileID)
	fmt.Fprintf(&b, "rows committed: %d\n", e.RowsCommitted)
	fmt.Fprintf(&b, "rows rejected:  %d\n", e.RowsRejected)
	fmt.Fprintf(&b, "received:       %s\n", e.Created.UTC().Format(timeFmt))
	fmt.Fprintf(&b, "committed:      %s\n", e.Updated.UTC().Format(timeFmt))
	badRows(&b, e)
	return b.String()
}

// alreadyReport is written beside a file whose content was committed before.
func alreadyReport(name string, e contract.LedgerEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: already ingested, not ingested again\n\n", name)
	fmt.Fprintf(&b, "The same content under the same pair and interval (file id %s) was committed on %s as %s:\n",
		e.FileID, e.Updated.UTC().Format(timeFmt), e.Name)
	fmt.Fprintf(&b, "  rows committed: %d\n  rows rejected:  %d\n", e.RowsCommitted, e.RowsRejected)
	b.WriteString("\nTo load it again anyway, run the watcher or fff ingest with --force.\n")
	return b.String()
}

// reasonNote is written beside a rejected file.
func reasonNote(name, reason string, e *contract.LedgerEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: rejected\n\nreason: %s\n", name, reason)
	if e != nil {
		fmt.Fprintf(&b, "file id: %s\n", e.FileID)
		if e.RowsCommitted > 0 {
			fmt.Fprintf(&b, "rows committed before the failure: %d\n", e.RowsCommitted)
		}
		badRows(&b, *e)
	}
	fmt.Fprintf(&b, "\nwritten %s\n", time.Now().UTC().Format(timeFmt))
	return b.String()
}

// entryReason is why a REJECTED or FAILED entry did not land.
func entryReason(e contract.LedgerEntry) string {
	r := e.Reason
	if r == "" {
		r = "no reason given"
	}
	if e.State == contract.FileFailed {
		return "QuestDB refused part of it (" + r + "); see fff dlq list"
	}
	return r
}
