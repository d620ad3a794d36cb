//! The `Idempotency-Key` store for mutating REST calls (POST, PATCH, DELETE).
//!
//! DESIGN.md decision 10: a client that retries with the same key must not execute twice.
//! The first request with a key claims it with an *in-flight marker*; when its handler is
//! done, the marker is replaced by the response, kept for `ttl` (24 h in production).
//!
//! | Redis holds                | same fingerprint      | different fingerprint |
//! |----------------------------|-----------------------|-----------------------|
//! | nothing                    | [`Begin::Proceed`]    | [`Begin::Proceed`]    |
//! | in-flight marker           | [`Begin::InFlight`] (409) | [`Begin::Mismatch`] (422) |
//! | stored response            | [`Begin::Replay`] (`Idempotent-Replayed: true`) | [`Begin::Mismatch`] (422) |
//!
//! The fingerprint is the caller's digest of method + path + body (SHA-256 recommended):
//! the store only compares it.
//!
//! # Atomicity
//!
//! Claiming is one command, `SET key marker NX PX in_flight_ttl GET` (Redis ≥ 7.0): it either
//! writes our marker or hands back what is there, with no window between the two. Each marker
//! carries a random token; [`IdempotencyStore::complete`] and [`IdempotencyStore::abandon`]
//! are Lua scripts that act only if the key still holds *our* marker, so a handler that
//! outlived its marker (expired, then claimed by a retry) cannot overwrite the newer owner.
//!
//! # Failure policy
//!
//! If Redis cannot be reached, every call fails with [`IdempotencyError::Unavailable`]
//! (the gateway answers 503) instead of running the request unprotected: a double order is
//! worse than a refused one. Every Redis round trip is bounded by `op_timeout`.
//!
//! A [`Guard`] dropped without `complete`/`abandon` (a panicking handler, a cancelled
//! request) keeps its key blocked until `in_flight_ttl` expires; retries see 409 until then.
//!
//! # What is stored
//!
//! [`IdempotencyStore::finish`] applies the gateway's policy: a response is stored when it
//! is a definite answer to that request body — 2xx, 3xx and 4xx (a 422 for a bad price is
//! as final as a 201) — and the marker is released instead for 5xx, 408 and 429, which
//! invite the client to retry. Releasing after a 5xx could re-run a side effect that did
//! happen; the matcher's per-account `client_order_id` uniqueness is the second line there.
//!
//! # Keys
//!
//! `{prefix}idem:{<principal>}:<key>`. The braces are a Redis Cluster hash tag, so all of
//! one principal's keys share a slot. `%`, `{` and `}` in the prefix and principal are
//! percent-escaped, so no principal/key pair can name another's entry and the tag always
//! ends where the principal does.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};

/// Version of the JSON records kept in Redis; bump it when their shape changes.
const FORMAT_VERSION: u32 = 1;

/// Longest accepted `Idempotency-Key`, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// Replaces our own in-flight marker (KEYS[1] == ARGV[1]) with the response ARGV[2] for
/// ARGV[3] ms. Returns 1 when stored, 0 when the marker was no longer ours.
const COMPLETE_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// Deletes our own in-flight marker. Returns 1 when deleted, 0 when it was no longer ours.
const ABANDON_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// Why the store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyError {
    /// Redis did not answer (down, timed out, refused the command). The request must be
    /// refused (503) rather than run without protection.
    #[error("idempotency store unavailable: {0}")]
    Unavailable(String),
    /// The `Idempotency-Key` is empty, longer than [`MAX_KEY_LEN`] bytes, or holds a byte
    /// outside printable ASCII (0x20..=0x7E).
    #[error("Idempotency-Key must be 1 to 255 printable ASCII characters")]
    InvalidKey,
    /// The entry under this key is not a record this code can read (unknown version,
    /// garbled JSON). Nothing is overwritten; the key stays unusable until it expires.
    #[error("idempotency record is corrupt: {0}")]
    Corrupt(String),
}

impl IdempotencyError {
    /// Whether the same request may succeed later: true only for [`Self::Unavailable`].
    #[must_use]
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Digest of what makes two requests "the same": method, path and body.
///
/// The caller computes it (SHA-256 of a length-prefixed `method`, `path`, `body` is the
/// intent); the store only compares it for equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

/// A response as kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers to replay (content-type, location …), in order; hop-by-hop and per-request
    /// headers (date, request id) are the caller's to leave out.
    pub headers: Vec<(String, String)>,
    /// The body bytes, replayed verbatim.
    pub body: Vec<u8>,
}

impl StoredResponse {
    /// Whether [`IdempotencyStore::finish`] stores this response (true) or releases the key
    /// so the client may retry (false): 5xx, 408 Request Timeout and 429 Too Many Requests
    /// are released, everything else is a final answer and stored.
    #[must_use]
    pub fn is_final(&self) -> bool {
        self.status < 500 && self.status != 408 && self.status != 429
    }
}

/// What to do with a request that carries an `Idempotency-Key`.
#[derive(Debug)]
#[must_use]
pub enum Begin {
    /// The key is ours: run the handler, then [`IdempotencyStore::complete`] (or `finish`,
    /// or `abandon`) with this guard.
    Proceed(Guard),
    /// An earlier request with this key and body finished: answer with its response.
    Replay(StoredResponse),
    /// An earlier request with this key and body is still running (409).
    InFlight,
    /// This key was used with a different method, path or body (422).
    Mismatch,
}

/// Ownership of a claimed key, consumed by `complete`, `finish` or `abandon`.
///
/// Dropping it leaves the in-flight marker to expire after `in_flight_ttl`.
#[derive(Debug)]
#[must_use = "complete, finish or abandon the guard, or the key stays in flight until its TTL"]
pub struct Guard {
    redis_key: String,
    /// The exact marker bytes written by `begin`; the Lua scripts compare against them.
    marker: String,
    fingerprint: Fingerprint,
}

impl Guard {
    /// The Redis key this guard owns (for logs).
    #[must_use]
    pub fn redis_key(&self) -> &str {
        &self.redis_key
    }
}

/// What [`IdempotencyStore::complete`], `finish` and `abandon` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The response is stored for `ttl`; retries replay it.
    Stored,
    /// The marker is deleted; a retry runs the request again.
    Released,
    /// The marker was gone or no longer ours (it expired, maybe a retry claimed the key):
    /// nothing was written. Worth a warning: the handler outlived `in_flight_ttl`.
    MarkerLost,
}

/// Stores in-flight markers and responses in Redis, per principal and key.
#[derive(Clone)]
pub struct IdempotencyStore {
    conn: ConnectionManager,
    prefix: String,
    ttl: Duration,
    in_flight_ttl: Duration,
    op_timeout: Duration,
    complete_script: redis::Script,
    abandon_script: redis::Script,
}

impl std::fmt::Debug for IdempotencyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyStore")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("in_flight_ttl", &self.in_flight_ttl)
            .field("op_timeout", &self.op_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a lazy [`ConnectionManager`] whose connects and commands give up after `timeout`
/// and which retries a failed connect once, so an unreachable Redis turns into a prompt
/// [`IdempotencyError::Unavailable`] instead of a hung request. Nothing is dialled until the
/// first command, so the gateway starts even while Redis is down.
///
/// Must be called inside a Tokio runtime.
///
/// # Errors
///
/// The URL does not parse as a Redis URL.
pub fn connection_manager(
    redis_url: &str,
    timeout: Duration,
) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(redis_url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(10))
        .set_max_delay(Duration::from_millis(100));
    ConnectionManager::new_lazy_with_config(client, config)
}

impl IdempotencyStore {
    /// Default bound on one Redis round trip, see [`Self::with_op_timeout`].
    pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(1);

    /// A store writing under `prefix` (e.g. `"tp:"`), keeping responses for `ttl` (24 h)
    /// and in-flight markers for `in_flight_ttl` (longer than the slowest handler: the
    /// request timeout plus a margin).
    pub fn new(
        conn: ConnectionManager,
        prefix: impl Into<String>,
        ttl: Duration,
        in_flight_ttl: Duration,
    ) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
            ttl,
            in_flight_ttl,
            op_timeout: Self::DEFAULT_OP_TIMEOUT,
            complete_script: redis::Script::new(COMPLETE_LUA),
            abandon_script: redis::Script::new(ABANDON_LUA),
        }
    }

    /// Bounds every Redis call made by this store (on top of the connection's own timeouts).
    pub fn with_op_timeout(mut self, op_timeout: Duration) -> Self {
        self.op_timeout = op_timeout;
        self
    }

    /// The Redis key for `principal`'s `key` (the key is not validated here).
    #[must_use]
    pub fn redis_key(&self, principal: &str, key: &str) -> String {
        let mut out = String::with_capacity(self.prefix.len() + principal.len() + key.len() + 8);
        push_escaped(&mut out, &self.prefix);
        out.push_str("idem:{");
        push_escaped(&mut out, principal);
        out.push_str("}:");
        out.push_str(key);
        out
    }

    /// Claims `key` for `principal`, or says why the request must not run now.
    ///
    /// # Errors
    ///
    /// [`IdempotencyError::InvalidKey`] for a malformed key (400), `Unavailable` when Redis
    /// does not answer (503), `Corrupt` when the entry cannot be read.
    pub async fn begin(
        &self,
        principal: &str,
        key: &str,
        fingerprint: Fingerprint,
    ) -> Result<Begin, IdempotencyError> {
        validate_key(key)?;
        let redis_key = self.redis_key(principal, key);
        let marker = encode(&Record::in_flight(fingerprint, new_token()))?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(&redis_key)
            .arg(&marker)
            .arg("NX")
            .arg("PX")
            .arg(millis(self.in_flight_ttl))
            .arg("GET");
        let mut conn = self.conn.clone();
        let previous: Option<Vec<u8>> = self.bounded(cmd.query_async(&mut conn)).await?;
        let Some(previous) = previous else {
            return Ok(Begin::Proceed(Guard {
                redis_key,
                marker,
                fingerprint,
            }));
        };
        let record = decode(&previous)?;
        if record.fingerprint()? != fingerprint {
            return Ok(Begin::Mismatch);
        }
        match record.state {
            State::InFlight { .. } => Ok(Begin::InFlight),
            State::Done {
                status,
                headers,
                body,
            } => Ok(Begin::Replay(StoredResponse {
                status,
                headers,
                body: BASE64
                    .decode(body)
                    .map_err(|e| IdempotencyError::Corrupt(format!("body: {e}")))?,
            })),
        }
    }

    /// Stores `response` (whatever its status) for `ttl` in place of the guard's marker.
    ///
    /// # Errors
    ///
    /// `Unavailable` when Redis does not answer; the marker then expires on its own.
    pub async fn complete(
        &self,
        guard: Guard,
        response: &StoredResponse,
    ) -> Result<Finished, IdempotencyError> {
        let record = encode(&Record::done(guard.fingerprint, response))?;
        let mut invocation = self.complete_script.key(&guard.redis_key);
        invocation
            .arg(&guard.marker)
            .arg(record)
            .arg(millis(self.ttl));
        let mut conn = self.conn.clone();
        let replaced: i64 = self.bounded(invocation.invoke_async(&mut conn)).await?;
        Ok(if replaced == 1 {
            Finished::Stored
        } else {
            Finished::MarkerLost
        })
    }

    /// Releases the guard's key without storing anything, so a retry runs the request again.
    /// For handlers that failed before doing anything.
    ///
    /// # Errors
    ///
    /// `Unavailable` when Redis does not answer; the marker then expires on its own.
    pub async fn abandon(&self, guard: Guard) -> Result<Finished, IdempotencyError> {
        let mut invocation = self.abandon_script.key(&guard.redis_key);
        invocation.arg(&guard.marker);
        let mut conn = self.conn.clone();
        let deleted: i64 = self.bounded(invocation.invoke_async(&mut conn)).await?;
        Ok(if deleted == 1 {
            Finished::Released
        } else {
            Finished::MarkerLost
        })
    }

    /// The gateway's policy in one call: [`Self::complete`] when the response
    /// [is final](StoredResponse::is_final), [`Self::abandon`] otherwise.
    ///
    /// # Errors
    ///
    /// As `complete` and `abandon`.
    pub async fn finish(
        &self,
        guard: Guard,
        response: &StoredResponse,
    ) -> Result<Finished, IdempotencyError> {
        if response.is_final() {
            self.complete(guard, response).await
        } else {
            self.abandon(guard).await
        }
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, IdempotencyError> {
        match tokio::time::timeout(self.op_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(IdempotencyError::Unavailable(e.to_string())),
            Err(_) => Err(IdempotencyError::Unavailable(format!(
                "no answer within {:?}",
                self.op_timeout
            ))),
        }
    }
}

/// 1..=255 bytes of printable ASCII (space through `~`).
fn validate_key(key: &str) -> Result<(), IdempotencyError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IdempotencyError::InvalidKey)
    }
}

/// Percent-escapes `%`, `{` and `}` so a principal can neither end the hash tag early nor
/// collide with another principal/key pair.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            c => out.push(c),
        }
    }
}

/// Redis `PX` wants whole milliseconds ≥ 1.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// A 128-bit token unique to one claim. Only uniqueness matters (it tells our marker from
/// a later claimant's), not secrecy: std's `RandomState` is seeded from the OS per thread
/// and changes on every `new`; the counter, clock and pid make collisions across threads
/// and processes implausible without pulling in an RNG crate.
fn new_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let state = RandomState::new();
    let hi = state.hash_one((n, nanos, std::process::id(), 0_u8));
    let lo = state.hash_one((n, nanos, std::process::id(), 1_u8));
    format!("{hi:016x}{lo:016x}")
}

/// The JSON kept under a key, version [`FORMAT_VERSION`].
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    v: u32,
    /// Base64 of the 32-byte fingerprint.
    fp: String,
    #[serde(flatten)]
    state: State,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum State {
    InFlight {
        token: String,
    },
    Done {
        status: u16,
        headers: Vec<(String, String)>,
        /// Base64 of the body bytes.
        body: String,
    },
}

impl Record {
    fn in_flight(fingerprint: Fingerprint, token: String) -> Self {
        Self {
            v: FORMAT_VERSION,
            fp: BASE64.encode(fingerprint.0),
            state: State::InFlight { token },
        }
    }

    fn done(fingerprint: Fingerprint, response: &StoredResponse) -> Self {
        Self {
            v: FORMAT_VERSION,
            fp: BASE64.encode(fingerprint.0),
            state: State::Done {
                status: response.status,
                headers: response.headers.clone(),
                body: BASE64.encode(&response.body),
            },
        }
    }

    fn fingerprint(&self) -> Result<Fingerprint, IdempotencyError> {
        let bytes = BASE64
            .decode(&self.fp)
            .map_err(|e| IdempotencyError::Corrupt(format!("fingerprint: {e}")))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| IdempotencyError::Corrupt("fingerprint is not 32 bytes".into()))?;
        Ok(Fingerprint(bytes))
    }
}

fn encode(record: &Record) -> Result<String, IdempotencyError> {
    serde_json::to_string(record).map_err(|e| IdempotencyError::Corrupt(e.to_string()))
}

fn decode(bytes: &[u8]) -> Result<Record, IdempotencyError> {
    let record: Record =
        serde_json::from_slice(bytes).map_err(|e| IdempotencyError::Corrupt(e.to_string()))?;
    if record.v != FORMAT_VERSION {
        return Err(IdempotencyError::Corrupt(format!(
            "unknown record version {}",
            record.v
        )));
    }
    Ok(record)
}

#[cfg(test)]
mod tests;
