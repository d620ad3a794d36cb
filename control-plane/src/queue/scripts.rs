//! The Lua scripts. Each touches the keys of one queue only, which share a hash tag, so each
//! runs atomically on one node of a Redis Cluster as well as on a single server.

/// Publishes messages the queue does not hold yet: due ones onto the stream, later ones into
/// the delayed set scored by run time, and records each job's attempt in the index.
///
/// Idempotent per (job, attempt): a message whose attempt the index already holds is
/// skipped, which is what lets the relay and the reconciler publish the same job freely.
///
/// KEYS: stream, delayed, index. ARGV: now (ms), entry field, then per message: job id,
/// attempt, run-at (ms), encoded message. Returns the number published.
pub(super) const PUBLISH: &str = r"
local now = tonumber(ARGV[1])
local field = ARGV[2]
local added = 0
for i = 3, #ARGV, 4 do
  local job, attempt, run_at, msg = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  if redis.call('HGET', KEYS[3], job) ~= attempt then
    redis.call('HSET', KEYS[3], job, attempt)
    if run_at <= now then
      redis.call('XADD', KEYS[1], '*', field, msg)
    else
      redis.call('ZADD', KEYS[2], run_at, msg)
    end
    added = added + 1
  end
end
return added
";

/// Moves due messages from the delayed set onto the stream, oldest first, in one atomic
/// step: a message is never in both places, and never in neither.
///
/// KEYS: stream, delayed. ARGV: now (ms), most to move, entry field. Returns the number moved.
pub(super) const PROMOTE: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, msg in ipairs(due) do
  redis.call('XADD', KEYS[1], '*', ARGV[3], msg)
  redis.call('ZREM', KEYS[2], msg)
end
return #due
";

/// Acknowledges and deletes entries (acknowledged entries are never read again, so keeping
/// them would only grow the stream), and forgets each job in the index unless a newer
/// attempt was published meanwhile (a retry published before this acknowledgement). When
/// the entries are attempts with an outcome, counts those acknowledged now (not before, by
/// another consumer) in the current rate bucket.
///
/// KEYS: stream, index, rate bucket. ARGV: group, outcome field (`succeeded`, `failed`, or
/// empty for none), bucket lifetime (ms), then per entry: entry id, job id, attempt.
/// Returns entries acknowledged.
pub(super) const ACK: &str = r"
local acked = 0
for i = 4, #ARGV, 3 do
  local entry, job, attempt = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  acked = acked + redis.call('XACK', KEYS[1], ARGV[1], entry)
  redis.call('XDEL', KEYS[1], entry)
  if redis.call('HGET', KEYS[2], job) == attempt then
    redis.call('HDEL', KEYS[2], job)
  end
end
if ARGV[2] ~= '' and acked > 0 then
  redis.call('HINCRBY', KEYS[3], ARGV[2], acked)
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
return acked
";
