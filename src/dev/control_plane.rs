//! Whether `tradeplane dev` can run the control plane: PostgreSQL migrated (the database
//! created if missing) and Redis answering, each within a few seconds. When either is not
//! there, dev runs without it and says so, rather than failing: the trading path needs
//! neither.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;

/// How long each check may take before the control plane is declared off.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// `Ok` with a description of what runs, or `Err` with why the control plane is off.
pub(crate) async fn check(config: &Config) -> Result<String, String> {
    let pg = config.postgres.pg_config();
    let migrated = tokio::time::timeout(CHECK_TIMEOUT, crate::migrate::run(&pg, true))
        .await
        .map_err(|_| format!("PostgreSQL did not answer within {CHECK_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    let redis = config.redis.redis_config();
    let queue = control_plane::RedisQueue::connect(&redis, Arc::new(control_plane::SystemClock))
        .map_err(|e| format!("redis: {e}"))?;
    tokio::time::timeout(CHECK_TIMEOUT, queue.depth("default"))
        .await
        .map_err(|_| format!("Redis did not answer within {CHECK_TIMEOUT:?}"))?
        .map_err(|e| format!("redis: {e}"))?;
    Ok(format!(
        "schema version {}, Redis key prefix {:?}, worker pool of {} on queues {}",
        migrated.version,
        redis.prefix,
        config.worker.concurrency,
        config.worker.queues.join(",")
    ))
}
