//! Stopping, in mini-redis's shape: one [`Trigger`] held by the signal side, and a
//! [`Shutdown`] token for every part that must stop; the token is a future that completes once
//! the stop has begun, so a stop can never be missed or delivered twice.

use tokio::sync::watch;

/// The side that starts the stop.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

/// The side that waits for it; cheap to clone, one per task.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A new trigger and its token.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    /// Starts the stop (again is harmless).
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Whether the stop has begun.
    pub fn is_shutdown(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the stop has begun (at once if it already has, or if the trigger is
    /// gone: nobody can start it any more, and nobody can keep the process running either).
    pub async fn recv(&mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_stop_reaches_every_token_once_begun() {
        let (trigger, shutdown) = channel();
        let mut a = shutdown.clone();
        let mut b = shutdown;
        assert!(!a.is_shutdown());
        trigger.stop();
        a.recv().await;
        b.recv().await;
        assert!(a.is_shutdown() && b.is_shutdown());
        // Still complete when asked again.
        a.recv().await;
    }
}
