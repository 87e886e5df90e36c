package cli

import (
	"os"
	"strings"
	"testing"
)

func TestIsTerminal(t *testing.T) {
	file, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var none *os.File
	for _, tc := range []struct {
		name string
		in   any
	}{
		{"reader", strings.NewReader("y\n")},
		{"regular file", file},
		{"/dev/null, a character device", null},
		{"nil file", none},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if IsTerminal(tc.in) {
				t.Errorf("%s taken for a terminal", tc.name)
			}
		})
	}
}
