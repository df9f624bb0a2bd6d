//! SIGINT and SIGTERM, handled so that an interrupted run keeps what it finished.
//!
//! The first signal sets a flag that commands poll between units of work (a page, a round
//! of keys): they stop admitting requests, give the ones in flight a short grace period,
//! write their results, close their output well-formed (the JSON array closed, CSV rows
//! whole), say what was not done and exit 130 (SIGINT) or 143 (SIGTERM). A second signal
//! exits at once with the same code.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::Code;

/// How long requests in flight may take to finish after the first signal.
pub const GRACE: Duration = Duration::from_secs(5);

static STOP: OnceLock<watch::Receiver<Option<Code>>> = OnceLock::new();

/// Starts listening (once, from inside the runtime). Without signal support, nothing stops.
pub fn install() {
    STOP.get_or_init(|| {
        let (sender, receiver) = watch::channel(None);
        tokio::spawn(async move {
            let Some(mut signals) = Signals::new() else {
                return;
            };
            let code = signals.next().await;
            let _ = sender.send(Some(code));
            crate::notes::say!(
                "jira-ops: interrupted: finishing what is in flight (at most {} s); a second signal stops at once",
                GRACE.as_secs()
            );
            signals.next().await;
            crate::notes::say!("jira-ops: stopped at once");
            std::process::exit(code as i32);
        });
        receiver
    });
}

/// The signals that stop a run.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn new() -> Option<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Some(Signals {
            interrupt: signal(SignalKind::interrupt()).ok()?,
            terminate: signal(SignalKind::terminate()).ok()?,
        })
    }

    #[cfg(not(unix))]
    fn new() -> Option<Self> {
        Some(Signals {})
    }

    /// The next signal's exit code.
    #[cfg(unix)]
    async fn next(&mut self) -> Code {
        tokio::select! {
            _ = self.interrupt.recv() => Code::Interrupted,
            _ = self.terminate.recv() => Code::Terminated,
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Code {
        let _ = tokio::signal::ctrl_c().await;
        Code::Interrupted
    }
}

/// The signal's exit code, once one arrived.
pub fn stopped() -> Option<Code> {
    STOP.get().and_then(|receiver| *receiver.borrow())
}

/// Resolves when the first signal arrives (never, when none will).
pub async fn wait() -> Code {
    let Some(receiver) = STOP.get() else {
        return std::future::pending().await;
    };
    let mut receiver = receiver.clone();
    loop {
        if let Some(code) = *receiver.borrow_and_update() {
            return code;
        }
        if receiver.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}
