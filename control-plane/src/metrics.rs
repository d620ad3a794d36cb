//! Prometheus series of the job system, counted where each event happens: enqueues in
//! the store, starts and outcomes in the [`Dispatcher`](crate::Dispatcher), queue depths
//! by whoever polls Redis for them (the worker pool).
//!
//! [`JobMetrics`] is a set of shared handles (cloning shares the series), registered into
//! whichever registry serves `/metrics`: the gateway's, a worker's, or in `tradeplane dev`
//! one registry for both. An unregistered `JobMetrics` counts into nothing anyone reads,
//! which is what tests and tools that do not serve metrics get by default.
//!
//! Series (labels `queue` and `type` are names operators chose, so their number is
//! bounded by the deployment, never by the traffic):
//! - `jobs_enqueued_total{queue,type}`, `jobs_started_total{queue,type}`,
//!   `jobs_succeeded_total{queue,type}`, `jobs_failed_total{queue,type}` (failed attempts,
//!   retried or not), `jobs_dead_lettered_total{queue,type}`
//! - `jobs_start_delay_seconds{queue}`: from the time a job became due (enqueued, or its
//!   retry time) to the start of its attempt
//! - `jobs_queue_depth{queue,state}`: Redis's view, `state` = `stream`, `pending`,
//!   `delayed`; every worker of a queue reports the same value, so aggregate it across
//!   instances with `max`, not `sum`

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::job::Job;
use crate::queue::QueueDepth;

/// `{queue, type}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    queue: String,
    r#type: String,
}

/// `{queue}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

/// `{queue, state}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DepthLabels {
    queue: String,
    state: &'static str,
}

/// Start delay buckets: 1 ms doubling to ~65 s (17 buckets, plus `+Inf`).
fn delay_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The job system's series. Cheap to clone; clones share the series.
#[derive(Clone, Debug)]
pub struct JobMetrics {
    enqueued: Family<TypeLabels, Counter>,
    started: Family<TypeLabels, Counter>,
    succeeded: Family<TypeLabels, Counter>,
    failed: Family<TypeLabels, Counter>,
    dead_lettered: Family<TypeLabels, Counter>,
    start_delay: Family<QueueLabels, Histogram, fn() -> Histogram>,
    depth: Family<DepthLabels, Gauge>,
}

impl Default for JobMetrics {
    fn default() -> Self {
        JobMetrics {
            enqueued: Family::default(),
            started: Family::default(),
            succeeded: Family::default(),
            failed: Family::default(),
            dead_lettered: Family::default(),
            start_delay: Family::new_with_constructor(delay_histogram),
            depth: Family::default(),
        }
    }
}

fn labels(job: &Job) -> TypeLabels {
    TypeLabels {
        queue: job.queue.clone(),
        r#type: job.job_type.clone(),
    }
}

impl JobMetrics {
    /// Adds every series to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "jobs_enqueued",
            "Jobs created, by queue and type",
            self.enqueued.clone(),
        );
        registry.register(
            "jobs_started",
            "Attempts started, by queue and type",
            self.started.clone(),
        );
        registry.register(
            "jobs_succeeded",
            "Attempts whose success was recorded, by queue and type",
            self.succeeded.clone(),
        );
        registry.register(
            "jobs_failed",
            "Attempts whose failure was recorded (retried or dead-lettered), by queue and type",
            self.failed.clone(),
        );
        registry.register(
            "jobs_dead_lettered",
            "Jobs that became dead letters, by queue and type",
            self.dead_lettered.clone(),
        );
        registry.register(
            "jobs_start_delay_seconds",
            "Time from a job becoming due (enqueued, or its retry time) to its attempt's start",
            self.start_delay.clone(),
        );
        registry.register(
            "jobs_queue_depth",
            "Messages in Redis per queue: on the stream, pending (delivered, not acknowledged), delayed",
            self.depth.clone(),
        );
    }

    pub(crate) fn enqueued(&self, job: &Job) {
        self.enqueued.get_or_create(&labels(job)).inc();
    }

    /// An attempt started: counted, and its delay since the job was due observed.
    pub(crate) fn started(&self, job: &Job) {
        self.started.get_or_create(&labels(job)).inc();
        let started = job.started_at.unwrap_or(job.updated_at);
        let delay = started
            .duration_since(job.run_at.max(job.created_at))
            .unwrap_or_default();
        self.start_delay
            .get_or_create(&QueueLabels {
                queue: job.queue.clone(),
            })
            .observe(delay.as_secs_f64());
    }

    pub(crate) fn succeeded(&self, job: &Job) {
        self.succeeded.get_or_create(&labels(job)).inc();
    }

    /// A failure was recorded for `job` as it is now (`dead` when it was the last).
    pub(crate) fn failed(&self, job: &Job) {
        self.failed.get_or_create(&labels(job)).inc();
        if job.status == crate::JobStatus::Dead {
            self.dead_lettered(job);
        }
    }

    pub(crate) fn dead_lettered(&self, job: &Job) {
        self.dead_lettered.get_or_create(&labels(job)).inc();
    }

    /// Sets `queue`'s depth gauges.
    pub fn set_depth(&self, queue: &str, depth: QueueDepth) {
        for (state, value) in [
            ("stream", depth.stream),
            ("pending", depth.pending),
            ("delayed", depth.delayed),
        ] {
            self.depth
                .get_or_create(&DepthLabels {
                    queue: queue.to_owned(),
                    state,
                })
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    #[test]
    fn registered_series_render_with_their_labels() {
        let metrics = JobMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.set_depth(
            "webhooks",
            QueueDepth {
                stream: 3,
                pending: 1,
                delayed: 2,
            },
        );
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("jobs_queue_depth{queue=\"webhooks\",state=\"delayed\"} 2"),
            "{text}"
        );
    }
}
