package ingest

import (
	"archive/zip"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
)

// Filters choose which files are ingested; empty lists match everything.
type Filters struct {
	Tiers     []string // TIER1..TIER4, of the pair's base asset
	Intervals []int    // minutes
	// TierOf gives a base asset's tier (the stored one when the asset
	// registry has it: assets.Registry.Tiers); the tier list's when nil.
	TierOf assets.TierFunc
}

// NewFilters checks and normalises --tier and --intervals values
// ("TIER1,TIER2" or "1,2"; intervals Kraken ships).
func NewFilters(tiers []string, intervals []int) (Filters, error) {
	ts, err := assets.ParseTierList(tiers)
	if err != nil {
		return Filters{}, err
	}
	for _, iv := range intervals {
		if !contract.Interval(iv).ShippedAsCSV() {
			return Filters{}, fmt.Errorf("interval %d: Kraken ships %v", iv, contract.CSVIntervals)
		}
	}
	return Filters{Tiers: ts, Intervals: slices.Clone(intervals)}, nil
}

// String describes the filters for logs.
func (f Filters) String() string {
	var parts []string
	if len(f.Tiers) > 0 {
		parts = append(parts, "tiers "+strings.Join(f.Tiers, ","))
	}
	if len(f.Intervals) > 0 {
		parts = append(parts, fmt.Sprintf("intervals %v", f.Intervals))
	}
	if len(parts) == 0 {
		return "everything"
	}
	return strings.Join(parts, ", ")
}

// Match says whether a series passes the filters, its tier, and if not why.
func (f Filters) Match(pair string, interval int) (tier string, ok bool, why string) {
	tier = "?"
	base, _, err := kraken.SplitPair(pair)
	if err == nil {
		tier = f.tierOf(base)
	}
	if len(f.Intervals) > 0 && !slices.Contains(f.Intervals, interval) {
		return tier, false, fmt.Sprintf("interval %d is not in --intervals %v", interval, f.Intervals)
	}
	if len(f.Tiers) > 0 {
		if err != nil {
			return tier, false, fmt.Sprintf("tier unknown (%v), not in --tier %s", err, strings.Join(f.Tiers, ","))
		}
		if !slices.Contains(f.Tiers, tier) {
			return tier, false, fmt.Sprintf("%s (base %s) is %s, not in --tier %s", pair, base, tier, strings.Join(f.Tiers, ","))
		}
	}
	return tier, true, ""
}

func (f Filters) tierOf(base string) string {
	if f.TierOf != nil {
		return f.TierOf(base)
	}
	return assets.TierOf(base)
}

// Candidate is a file (or a member of a zip) that would be ingested.
type Candidate struct {
	Path     string // the file, or the zip holding the member (absolute)
	Member   string // zip member name; "" for a plain file
	Name     string // ledger name: "XBTUSD_60.csv" or "archive.zip/XBTUSD_60.csv"
	Pair     string
	Interval int
	Tier     string
	Size     int64 // bytes (uncompressed for a zip member)
}

// Skip kinds.
const (
	SkipRejected = "rejected" // misnamed, empty, symlink, unreadable: goes to rejected/
	SkipFiltered = "filtered" // outside --tier/--intervals: stays where it is
)

// Skipped is a file or zip member that will not be ingested, and why.
type Skipped struct {
	Path   string
	Member string
	Name   string
	Kind   string // SkipRejected or SkipFiltered
	Reason string
}

// Ignored says whether a name is never looked at: dotfiles, partial
// downloads and editor temporaries.
func Ignored(name string) bool {
	base := filepath.Base(name)
	if base == "" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "~$") || strings.HasSuffix(base, "~") {
		return true
	}
	lower := strings.ToLower(base)
	for _, suf := range []string{".part", ".tmp", ".partial", ".crdownload", ".swp"} {
		if strings.HasSuffix(lower, suf) {
			return true
		}
	}
	return false
}

// IsZip says whether a file is taken as a zip of Kraken CSVs.
func IsZip(name string) bool { return strings.HasSuffix(strings.ToLower(name), ".zip") }

// judge decides about one regular file or zip member by name and size.
func judge(name string, size int64, f Filters) (Candidate, *Skipped) {
	pair, interval, err := kraken.ParseFileName(name)
	if err != nil {
		return Candidate{}, &Skipped{Name: name, Kind: SkipRejected, Reason: err.Error()}
	}
	tier, ok, why := f.Match(pair, interval)
	if !ok {
		return Candidate{}, &Skipped{Name: name, Kind: SkipFiltered, Reason: why}
	}
	if size == 0 {
		return Candidate{}, &Skipped{Name: name, Kind: SkipRejected, Reason: "the file is empty"}
	}
	return Candidate{Name: name, Pair: pair, Interval: interval, Tier: tier, Size: size}, nil
}

// JudgeFile decides about one directory entry found by Lstat; ignored is
// true for names and kinds that are never looked at.
func JudgeFile(path string, fi fs.FileInfo, f Filters) (c Candidate, s *Skipped, ignored bool) {
	name := fi.Name()
	if Ignored(name) || fi.IsDir() {
		return Candidate{}, nil, true
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return Candidate{}, &Skipped{Path: path, Name: name, Kind: SkipRejected,
			Reason: "symbolic links are refused: copy or move the file itself into the folder"}, false
	}
	if !fi.Mode().IsRegular() {
		return Candidate{}, nil, true
	}
	c, s = judge(name, fi.Size(), f)
	c.Path = path
	if s != nil {
		s.Path = path
	}
	return c, s, false
}

// ZipMembers lists what a zip holds: members to ingest and members skipped.
func ZipMembers(path string, f Filters) ([]Candidate, []Skipped, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, nil, &FileError{Path: path, Err: fmt.Errorf("not a readable zip: %w", err)}
	}
	defer zr.Close()
	var cands []Candidate
	var skipped []Skipped
	zipName := filepath.Base(path)
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || Ignored(zf.Name) || strings.HasPrefix(zf.Name, "__MACOSX/") {
			continue
		}
		c, s := judge(zf.Name, int64(zf.UncompressedSize64), f)
		if s != nil {
			s.Path, s.Member, s.Name = path, zf.Name, zipName+"/"+zf.Name
			skipped = append(skipped, *s)
			continue
		}
		c.Path, c.Member, c.Name = path, zf.Name, zipName+"/"+zf.Name
		cands = append(cands, c)
	}
	return cands, skipped, nil
}

// Scan lists what ingesting the files directly in dir would do, without
// reading them: the candidates (zip members expanded) sorted by tier,
// interval and name, and what is skipped with the reason. Ignored names and
// subfolders are not listed.
func Scan(dir string, f Filters) ([]Candidate, []Skipped, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("folder %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read folder: %w", err)
	}
	var cands []Candidate
	var skipped []Skipped
	for _, de := range entries {
		path := filepath.Join(dir, de.Name())
		fi, err := os.Lstat(path)
		if err != nil {
			continue // gone since the listing
		}
		if !fi.IsDir() && fi.Mode().IsRegular() && IsZip(fi.Name()) && !Ignored(fi.Name()) {
			cs, ss, err := ZipMembers(path, f)
			if err != nil {
				skipped = append(skipped, Skipped{Path: path, Name: fi.Name(), Kind: SkipRejected, Reason: err.Error()})
				continue
			}
			cands = append(cands, cs...)
			skipped = append(skipped, ss...)
			continue
		}
		c, s, ignored := JudgeFile(path, fi, f)
		switch {
		case ignored:
		case s != nil:
			skipped = append(skipped, *s)
		default:
			cands = append(cands, c)
		}
	}
	SortCandidates(cands)
	return cands, skipped, nil
}

// TotalSize is the bytes of the candidates.
func TotalSize(cs []Candidate) int64 {
	var n int64
	for _, c := range cs {
		n += c.Size
	}
	return n
}

// SortCandidates orders by tier, interval, then name: the order a bulk load
// goes in, majors first.
func SortCandidates(cs []Candidate) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Tier != b.Tier {
			return a.Tier < b.Tier
		}
		if a.Interval != b.Interval {
			return a.Interval < b.Interval
		}
		return a.Name < b.Name
	})
}

// FileError is a problem with a file itself (unreadable, changed while
// read, corrupt zip): retrying does not help, the file is rejected.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }
