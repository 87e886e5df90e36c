package cli

import (
	"encoding/json"
	"io"
	"os"
)

// WriteJSON writes v as indented JSON, the --json output of every command.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// IsTerminal says whether v is a character device other than /dev/null
// (which is one too): where a confirmation can be asked and a progress
// line redrawn. Anything with a Stat method is judged by it.
func IsTerminal(v any) bool {
	st, ok := v.(interface{ Stat() (os.FileInfo, error) })
	if !ok || st == nil {
		return false
	}
	if f, isFile := v.(*os.File); isFile && f == nil {
		return false
	}
	fi, err := st.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return false
	}
	return true
}
