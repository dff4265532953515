//! Time as the agent sees it. Polling waits are long (seconds to minutes) and their exact
//! lengths are protocol rules (POLL-03, POLL-04), so the client takes its time from a [`Clock`]
//! that tests replace with a virtual one instead of sleeping for real.
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// A boxed sleep future.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Wall time for `created` and `Retry-After` dates, a monotonic reading for deadlines, and a
/// way to wait.
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time (signature `created`, HTTP-date `Retry-After`).
    fn wall(&self) -> SystemTime;
    /// Monotonic time since an arbitrary fixed origin (polling deadlines).
    fn monotonic(&self) -> Duration;
    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// The real clock: `SystemTime` and tokio's timer (so a paused tokio clock also applies).
#[derive(Debug, Clone)]
pub struct SystemClock {
    origin: tokio::time::Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}
