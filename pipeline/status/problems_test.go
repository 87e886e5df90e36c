package status

import (
	"slices"
	"testing"
)

func TestProblems(t *testing.T) {
	healthy := QuestDB{Table: "candles", Reachable: true, TableFound: true}
	for _, tc := range []struct {
		name string
		r    Report
		want []string
	}{
		{"healthy, with lag and files in flight", Report{QuestDB: QuestDB{Table: "candles", Reachable: true, TableFound: true, WriterTxn: 3, SequencerTxn: 9, Lag: 6},
			Files: Files{InFlight: []FileInFlight{{Name: "XBTUSD_60.csv", State: "PARSED"}}}}, []string{}},
		{"suspended", Report{QuestDB: QuestDB{Table: "candles", Reachable: true, TableFound: true, Suspended: true}},
			[]string{"table candles is suspended: its WAL is not applied, files wait; see QuestDB's log, then ALTER TABLE candles RESUME WAL"}},
		{"wal_tables() refused", Report{QuestDB: QuestDB{Table: "candles", Reachable: true, Error: "wal_tables(): boom"}},
			[]string{"table candles: wal_tables(): boom"}},
		{"empty stages are no dead letters", Report{QuestDB: healthy, DeadLetters: map[string]int{"writer": 0}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problems(tc.r); !slices.Equal(got, tc.want) {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
}
