package contract

// FillReport is the writer's word on one candle batch of a fill request
// (a batch with a FillID), sent on fillreports.<source> (core NATS, no
// stream) once the batch is queryable in QuestDB or was refused. The fetcher
// waits for the reports of every batch it published before it records the
// gap FILLED, so that FILLED means queryable.
type FillReport struct {
	FillID string `json:"fill_id"`
	Batch  uint32 `json:"batch"`
	Rows   int64  `json:"rows"`
	// Kind is FillApplied (committed and queryable) or FillRefused.
	Kind   string `json:"kind"`
	Reason string `json:"reason,omitempty"`
	Table  string `json:"table,omitempty"`
}

// FillReport kinds.
const (
	FillApplied = "applied"
	FillRefused = "refused"
)
