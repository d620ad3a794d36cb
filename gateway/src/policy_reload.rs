//! SIGHUP reloads the RBAC policy, as daemons conventionally re-read their configuration on
//! a hang-up.
//!
//! [`spawn_on_sighup`] is called by [`crate::app::run`], so every role that serves the
//! gateway (`tradeplane gateway`, `tradeplane dev`) gets it without wiring of its own.
//!
//! Task policy:
//! - **Name**: the task runs in the `policy_reload_task` span; its log lines carry
//!   `trigger = "sighup"` and whether the policy is the embedded one.
//! - **Errors**: a reload that fails is logged (warn, with the file and line at fault) and
//!   the previous policy stays in force ([`Authorizer::reload`]); the task keeps listening,
//!   so fixing the file and sending SIGHUP again is the whole recovery.
//! - **Cancellation**: the task stops when its token is cancelled. A reload already running
//!   finishes first (it is a file read and a pointer swap), so a policy is never half-applied.
//! - **Coalescing**: signals that arrive during a reload are merged by the OS and by tokio
//!   into one more reload, which is what an operator sending several SIGHUPs means.
//!
//! With the embedded policy (no files configured) a SIGHUP re-installs the same rules and
//! empties the decision cache; it is accepted rather than refused so that SIGHUP never
//! terminates a gateway, whatever its configuration. Once the handler is installed SIGHUP no
//! longer has its default action (terminate) in this process, even after the task stops.

use std::future::Future;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::app::AppState;
use crate::rbac::Authorizer;

/// Installs the SIGHUP handler now (before returning, so that a SIGHUP sent afterwards
/// cannot terminate the process) and spawns the task that reloads the policy of `state` on
/// each one, until `stop` is cancelled.
///
/// # Errors
/// The I/O error if the signal handler cannot be installed (no Tokio signal driver: the
/// runtime was built without `enable_io`).
pub fn spawn_on_sighup(
    state: AppState,
    stop: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    let hangups = signal(SignalKind::hangup())?;
    let task = async move { reload_loop(hangups, state.authorizer(), &stop).await }
        .instrument(tracing::info_span!("policy_reload_task"));
    Ok(tokio::spawn(task))
}

/// A source of reload requests: SIGHUP in production, a channel in tests.
pub(crate) trait Trigger: Send {
    /// Waits for the next request; `None` once no more can arrive.
    fn next(&mut self) -> impl Future<Output = Option<()>> + Send;
}

impl Trigger for Signal {
    fn next(&mut self) -> impl Future<Output = Option<()>> + Send {
        self.recv()
    }
}

/// Reloads `authorizer` on every request from `trigger` until `stop` is cancelled or the
/// trigger ends.
pub(crate) async fn reload_loop(
    mut trigger: impl Trigger,
    authorizer: &Authorizer,
    stop: &CancellationToken,
) {
    loop {
        tokio::select! {
            // A cancelled token wins over a pending signal: stopping is not delayed by one
            // more reload.
            biased;
            () = stop.cancelled() => break,
            next = trigger.next() => match next {
                // Runs to completion: `select!` has already dropped the other branches.
                Some(()) => reload(authorizer).await,
                None => {
                    tracing::warn!("the SIGHUP stream ended; policy reload on SIGHUP is off");
                    return;
                }
            },
        }
    }
    tracing::debug!("policy reload task stopped");
}

/// One reload; [`Authorizer::reload`] logs the outcome (new rule counts, or the error and
/// that the previous policy stays in force) inside this span.
async fn reload(authorizer: &Authorizer) {
    let span = tracing::info_span!(
        "policy_reload",
        trigger = "sighup",
        embedded = authorizer.is_embedded()
    );
    async {
        tracing::info!("rbac: SIGHUP received; reloading the policy");
        // The error is logged by `reload` itself, with the file and line at fault.
        let _ = authorizer.reload().await;
    }
    .instrument(span)
    .await;
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::rbac::{DEFAULT_MODEL, DEFAULT_POLICY, Decision, Ownership};

    /// A scripted trigger: each request first runs the next step (rewrite the policy file,
    /// check the decision in force), then asks for a reload; the script's end ends the loop.
    /// A step runs when the request is awaited, which happens only once the previous reload
    /// has finished, so steps and reloads interleave deterministically.
    struct Script<'a>(std::vec::IntoIter<Box<dyn FnOnce() + Send + 'a>>);

    impl Trigger for Script<'_> {
        fn next(&mut self) -> impl Future<Output = Option<()>> + Send {
            let step = self.0.next();
            async move { step.map(|step| step()) }
        }
    }

    /// The shipped model and policy in a temporary directory.
    struct Files {
        _dir: tempfile::TempDir,
        model: PathBuf,
        policy: PathBuf,
    }

    impl Files {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let model = dir.path().join("model.conf");
            let policy = dir.path().join("policy.csv");
            std::fs::write(&model, DEFAULT_MODEL).unwrap();
            std::fs::write(&policy, DEFAULT_POLICY).unwrap();
            Self {
                _dir: dir,
                model,
                policy,
            }
        }

        fn write(&self, text: &str) {
            std::fs::write(&self.policy, text).unwrap();
        }
    }

    fn viewer_reads_jobs(authz: &Authorizer) -> Decision {
        authz.check(&["viewer"], "GET", "/v1/jobs", Ownership::NotApplicable)
    }

    fn granted() -> String {
        format!("{DEFAULT_POLICY}p, viewer, /v1/jobs, GET, any\n")
    }

    #[tokio::test]
    async fn every_trigger_reloads_and_a_failed_reload_keeps_the_policy_and_the_loop() {
        let files = Files::new();
        let authz = Authorizer::load(&files.model, &files.policy).await.unwrap();
        assert_eq!(viewer_reads_jobs(&authz), Decision::Deny);
        let (f, a) = (&files, &authz);
        let steps: Vec<Box<dyn FnOnce() + Send + '_>> = vec![
            Box::new(move || f.write(&granted())),
            Box::new(move || {
                assert_eq!(viewer_reads_jobs(a), Decision::Allow, "the grant applied");
                f.write(&format!("{DEFAULT_POLICY}p, viewer, /v1/jobs, GET, onw\n"));
            }),
            Box::new(move || {
                assert_eq!(
                    viewer_reads_jobs(a),
                    Decision::Allow,
                    "a malformed policy leaves the previous one in force"
                );
                f.write(DEFAULT_POLICY);
            }),
        ];
        let stop = CancellationToken::new();
        reload_loop(Script(steps.into_iter()), &authz, &stop).await;
        assert_eq!(
            viewer_reads_jobs(&authz),
            Decision::Deny,
            "the loop went on after the failure: the revocation applied"
        );
    }

    #[tokio::test]
    async fn a_cancelled_token_wins_over_a_pending_trigger() {
        let files = Files::new();
        let authz = Authorizer::load(&files.model, &files.policy).await.unwrap();
        let ran = std::sync::atomic::AtomicBool::new(false);
        let steps: Vec<Box<dyn FnOnce() + Send + '_>> = vec![Box::new(|| {
            ran.store(true, std::sync::atomic::Ordering::SeqCst);
        })];
        files.write(&granted());
        let stop = CancellationToken::new();
        stop.cancel();
        tokio::time::timeout(
            Duration::from_secs(5),
            reload_loop(Script(steps.into_iter()), &authz, &stop),
        )
        .await
        .expect("the loop stops on cancellation");
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(viewer_reads_jobs(&authz), Decision::Deny, "no reload ran");
    }

    #[tokio::test]
    async fn the_embedded_policy_reloads_as_itself() {
        let authz = Authorizer::embedded().await.unwrap();
        let before = authz.summary();
        assert!(
            authz
                .check(&["admin"], "GET", "/v1/markets", Ownership::NotApplicable)
                .is_allowed()
        );
        assert!(authz.cached_decisions() > 0);
        let steps: Vec<Box<dyn FnOnce() + Send>> = vec![Box::new(|| {})];
        reload_loop(Script(steps.into_iter()), &authz, &CancellationToken::new()).await;
        assert_eq!(authz.summary(), before);
        assert_eq!(
            authz.cached_decisions(),
            0,
            "the reload installed a new generation"
        );
    }
}
