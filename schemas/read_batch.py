#!/usr/bin/env python3
"""Read FeeFiFoFunds candle batches (the "FFCB" binary format) without any
dependency, following schemas/candle_batch.md only.

    python3 schemas/read_batch.py batch.bin          # one batch from a file
    nats sub --raw ... | ...                          # or bytes on stdin
    python3 schemas/read_batch.py < batch.bin

Prints the batch as JSON in the same shape as `fff tail` (see
schemas/candle_batch.schema.json): times as RFC 3339 UTC, vwap null when
absent (NaN on the wire), trades null when unknown (-1 on the wire).

As a library: read_batch(data: bytes) -> dict.
"""

import json
import math
import struct
import sys
from datetime import datetime, timezone

MAGIC = b"FFCB"
VERSION = 1
HEADER = struct.Struct("<4sBBBBIII")  # magic, version, origin, flags, reserved, interval, batch index, count
ORIGINS = {1: "csv", 2: "api", 3: "trades"}
STRINGS = ("source", "pair", "base", "quote", "file_id", "file_name", "fill_id")
COLUMNS = ("time", "open", "high", "low", "close", "vwap", "volume", "trades")
COLUMN_TYPES = {"time": "q", "trades": "q"}  # int64; every other column is float64 ("d")


class BatchError(ValueError):
    pass


def read_batch(data: bytes) -> dict:
    if len(data) < HEADER.size:
        raise BatchError(f"{len(data)} bytes is shorter than the {HEADER.size}-byte header")
    magic, version, origin, flags, _reserved, interval, batch_index, count = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise BatchError("not a candle batch (bad magic)")
    if version != VERSION:
        raise BatchError(f"unsupported version {version}")
    off = HEADER.size
    strings = {}
    for name in STRINGS:
        if off + 2 > len(data):
            raise BatchError("truncated header strings")
        (n,) = struct.unpack_from("<H", data, off)
        off += 2
        if off + n > len(data):
            raise BatchError("truncated header strings")
        strings[name] = data[off:off + n].decode("utf-8", errors="replace")
        off += n
    if len(data) - off != count * 8 * len(COLUMNS):
        raise BatchError(f"{len(data) - off} column bytes for {count} candles, want {count * 64}")
    cols = {}
    for name in COLUMNS:
        cols[name] = struct.unpack_from(f"<{count}{COLUMN_TYPES.get(name, 'd')}", data, off)
        off += 8 * count

    def num(x):
        return None if math.isnan(x) or math.isinf(x) else x

    candles = []
    for i in range(count):
        t = datetime.fromtimestamp(cols["time"][i], tz=timezone.utc)
        trades = cols["trades"][i]
        candles.append({
            "time": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "open": num(cols["open"][i]),
            "high": num(cols["high"][i]),
            "low": num(cols["low"][i]),
            "close": num(cols["close"][i]),
            "vwap": num(cols["vwap"][i]),
            "volume": num(cols["volume"][i]),
            "trades": None if trades < 0 else trades,
        })
    return {
        "source": strings["source"],
        "pair": strings["pair"],
        "base": strings["base"],
        "quote": strings["quote"],
        "interval_minutes": interval,
        "origin": ORIGINS.get(origin, f"origin({origin})"),
        "file_id": strings["file_id"],
        "file_name": strings["file_name"],
        "fill_id": strings["fill_id"],
        "batch_index": batch_index,
        "last": bool(flags & 1),
        "count": count,
        "candles": candles,
    }


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    data = open(argv[1], "rb").read() if len(argv) == 2 else sys.stdin.buffer.read()
    try:
        batch = read_batch(data)
    except BatchError as e:
        print(f"read_batch: {e}", file=sys.stderr)
        return 1
    json.dump(batch, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
