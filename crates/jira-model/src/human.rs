//! Durations and instants as people read them in messages: `1.5 s`, `3 min 20 s`,
//! `14:05:10 UTC`, never a debug form such as `1.013181516s`.

use std::fmt;
use std::time::{Duration, SystemTime};

/// A duration for people: `850 ms`, `1.5 s`, `42 s`, `3 min 20 s`, `1 h 5 min`.
///
/// ```
/// use std::time::Duration;
/// use jira_model::HumanDuration;
/// assert_eq!(HumanDuration(Duration::from_millis(1013)).to_string(), "1.0 s");
/// assert_eq!(HumanDuration(Duration::from_secs(200)).to_string(), "3 min 20 s");
/// assert_eq!(HumanDuration(Duration::from_secs(3_900)).to_string(), "1 h 5 min");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let secs = d.as_secs();
        if d < Duration::from_secs(1) {
            write!(f, "{} ms", d.as_millis())
        } else if d < Duration::from_secs(10) {
            write!(f, "{:.1} s", d.as_secs_f64())
        } else if secs < 60 {
            write!(f, "{secs} s")
        } else if secs < 3_600 {
            match secs % 60 {
                0 => write!(f, "{} min", secs / 60),
                rest => write!(f, "{} min {rest} s", secs / 60),
            }
        } else {
            match (secs % 3_600) / 60 {
                0 => write!(f, "{} h", secs / 3_600),
                rest => write!(f, "{} h {rest} min", secs / 3_600),
            }
        }
    }
}

/// The wall-clock time `after` from now, in UTC (`14:05:10 UTC`, with the date when it is
/// not today: `2026-12-03 01:00:00 UTC`): when a wait ends, a quota resets.
pub fn clock_time_after(after: Duration) -> String {
    let now = time::OffsetDateTime::from(SystemTime::now());
    let then = now + after;
    let clock = format!(
        "{:02}:{:02}:{:02}",
        then.hour(),
        then.minute(),
        then.second()
    );
    if then.date() == now.date() {
        format!("{clock} UTC")
    } else {
        format!("{} {clock} UTC", then.date())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        let text = |ms: u64| HumanDuration(Duration::from_millis(ms)).to_string();
        assert_eq!(text(850), "850 ms");
        assert_eq!(text(1_013), "1.0 s");
        assert_eq!(text(42_000), "42 s");
        assert_eq!(text(120_000), "2 min");
        assert_eq!(text(7_200_000), "2 h");
        assert!(clock_time_after(Duration::from_secs(60)).ends_with(" UTC"));
    }
}
