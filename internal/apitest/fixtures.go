package apitest

import (
	"embed"
	"encoding/json"
	"fmt"
)

// Fixtures are the captured bodies a fake embeds from its testdata/.
type Fixtures struct {
	fs   embed.FS
	fake string // names the fake in panics
}

// NewFixtures reads fs, which embeds testdata/, for the fake named fake.
func NewFixtures(fs embed.FS, fake string) Fixtures { return Fixtures{fs: fs, fake: fake} }

// Body is the captured body testdata/name; a missing one panics, as a
// test asking for it is wrong.
func (f Fixtures) Body(name string) []byte {
	b, err := f.fs.ReadFile("testdata/" + name)
	if err != nil {
		panic(fmt.Sprintf("%s: no fixture %s", f.fake, name))
	}
	return b
}

// Decode unmarshals testdata/name into v, panicking when it does not fit.
func (f Fixtures) Decode(name string, v any) {
	if err := json.Unmarshal(f.Body(name), v); err != nil {
		panic(fmt.Sprintf("%s: fixture %s: %v", f.fake, name, err))
	}
}
