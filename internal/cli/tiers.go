package cli

import (
	"github.com/spf13/pflag"

	"github.com/feefifofunds/feefifofunds/pipeline/assets"
)

// TiersFile is --tiers-file: a tier list in tiers.txt's format that takes
// the place of the built-in one for the whole process, so tiers change
// without a rebuild. Assets the registry holds keep their stored tier.
type TiersFile struct {
	Path string
}

// AddFlags registers --tiers-file (FFF_TIERS_FILE).
func (t *TiersFile) AddFlags(fs *pflag.FlagSet) {
	Flag(fs, fs.StringVar, &t.Path, "tiers-file", "",
		`tier list replacing the built-in pipeline/assets/tiers.txt (same format: "TIER1: BTC ETH ...")`, "FFF_TIERS_FILE")
}

// Apply makes the named file the process's tier list, or the built-in list
// when none is named (each run of a command starts from its own flags, also
// when tests run several in one process). Call it at start, once the flags
// are parsed.
func (t TiersFile) Apply() error {
	return assets.UseTiersFile(t.Path)
}
