// Package schemas embeds the message contracts (JSON Schemas and the binary
// candle batch description) and the QuestDB migrations into the binaries.
package schemas

import "embed"

// QuestDB holds questdb/NNNN_name.up.sql and .down.sql. {{table}} in a
// migration stands for the candle table's name.
//
//go:embed questdb/*.sql
var QuestDB embed.FS

// JSON holds the JSON Schemas of the JSON messages.
//
//go:embed *.schema.json
var JSON embed.FS
