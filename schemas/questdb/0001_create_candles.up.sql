-- The candle table. WAL is required for DEDUP; the dedup keys make every
-- re-delivery (JetStream is at-least-once) an upsert instead of a duplicate.
-- PARTITION BY MONTH: measured faster than DAY for multi-year bulk loads
-- (see docs/PERFORMANCE.md) and still small partitions for one-minute data.
CREATE TABLE IF NOT EXISTS {{table}} (
    ts TIMESTAMP,
    source SYMBOL CAPACITY 256 CACHE,
    pair SYMBOL CAPACITY 4096 CACHE,
    base SYMBOL CAPACITY 4096 CACHE,
    quote SYMBOL CAPACITY 256 CACHE,
    origin SYMBOL CAPACITY 256 CACHE,
    interval_minutes INT,
    open DOUBLE,
    high DOUBLE,
    low DOUBLE,
    close DOUBLE,
    vwap DOUBLE,
    volume DOUBLE,
    trades LONG
) TIMESTAMP(ts) PARTITION BY MONTH WAL
DEDUP UPSERT KEYS(ts, source, pair, interval_minutes);
