//! SIGTERM and Ctrl-C cancel the one shutdown token every role watches.

use tokio_util::sync::CancellationToken;

/// Spawns a task (on the current runtime) that cancels `token` on SIGTERM or SIGINT.
pub(crate) fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        token.cancel();
    });
}
