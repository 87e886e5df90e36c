package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// decodeTyped is how a request people type by hand (a fill or price
// request over `nats pub`) is read into its wire shape v: at most limit
// bytes, only the keys in fields, spelled exactly, one JSON object and
// nothing after it. Its errors start with what ("fill request").
func decodeTyped(what string, data []byte, limit int, fields []string, v any) error {
	if len(data) > limit {
		return fmt.Errorf("%s: %d bytes, at most %d", what, len(data), limit)
	}
	if err := checkKeys(data, fields); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", what, explainJSONError(err))
	}
	if dec.More() {
		return errors.New(what + ": trailing data after the JSON object")
	}
	return nil
}

// checkKeys rejects keys that are not exactly one of fields (encoding/json
// matches case-insensitively; the schemas do not).
func checkKeys(data []byte, fields []string) error {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return nil // not an object: the typed decode explains what is wrong
	}
	var unknown []string
	for k := range obj {
		if !slices.Contains(fields, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	k := unknown[0]
	hint := ""
	if l := strings.ToLower(k); l != k && slices.Contains(fields, l) {
		hint = fmt.Sprintf(`; field names are lower case: %q`, l)
	}
	// Clipped: a key can be most of a 64 KiB message, and the error travels in a dead letter.
	return fmt.Errorf("unknown field %s (allowed: %s)%s", Clip(k, 40), strings.Join(fields, ", "), hint)
}
