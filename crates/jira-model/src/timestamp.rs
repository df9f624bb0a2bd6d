//! Jira's body timestamps.
//!
//! Jira Cloud writes `created`, `updated`, `serverTime` and friends as
//! `2024-01-18T07:33:17.016+0000`: milliseconds and an offset without a colon, which strict
//! RFC 3339 parsers reject. [`JiraTimestamp`] accepts that form, the colon form
//! (`+00:00`), `Z`, and the same without fractional seconds or with minute precision (as
//! `X-RateLimit-Reset` sometimes is), and always writes Jira's form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// An instant as Jira writes it in JSON bodies.
///
/// ```
/// use jira_model::JiraTimestamp;
/// let t: JiraTimestamp = "2024-01-18T07:33:17.016+0000".parse().unwrap();
/// assert_eq!(t.to_string(), "2024-01-18T07:33:17.016+0000");
/// let same: JiraTimestamp = "2024-01-18T07:33:17.016+00:00".parse().unwrap();
/// assert_eq!(t, same);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JiraTimestamp(pub OffsetDateTime);

/// A timestamp string that is in none of the accepted forms.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "timestamp {value:?} is not a Jira timestamp (expected e.g. \"2024-01-18T07:33:17.016+0000\" or RFC 3339)"
)]
pub struct TimestampError {
    /// The rejected input.
    pub value: String,
}

const JIRA_FORMAT: &[BorrowedFormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory][offset_minute]"
);
const DATE_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
const DATE_TIME_MINUTES: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]");
const DATE_TIME_FRACTION: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");

impl JiraTimestamp {
    /// The instant as a `time` value.
    pub fn as_offset_date_time(&self) -> OffsetDateTime {
        self.0
    }

    /// The instant `ms` milliseconds after the Unix epoch, in UTC (`None` past the year
    /// 9999).
    ///
    /// ```
    /// use jira_model::JiraTimestamp;
    /// let t = JiraTimestamp::from_unix_millis(1_705_563_197_016).unwrap();
    /// assert_eq!(t.to_string(), "2024-01-18T07:33:17.016+0000");
    /// ```
    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .map(JiraTimestamp)
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// The instant in UTC as ISO 8601 with milliseconds and `Z`: the form SQL databases
    /// read as a time (SQLite's `datetime()` returns NULL for Jira's `+0000` form;
    /// PostgreSQL's `timestamptz` takes both) and that sorts as text in time order.
    ///
    /// ```
    /// use jira_model::JiraTimestamp;
    /// let t: JiraTimestamp = "2025-03-19T08:52:08.734+0100".parse().unwrap();
    /// assert_eq!(t.to_utc_iso(), "2025-03-19T07:52:08.734Z");
    /// ```
    pub fn to_utc_iso(&self) -> String {
        let t = self.0.to_offset(UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

impl FromStr for JiraTimestamp {
    type Err = TimestampError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if let Some(at) = jira_form(input) {
            return Ok(JiraTimestamp(at));
        }
        any_form(input)
    }
}

/// Jira's own form, `2024-01-18T07:33:17.016+0000`, read byte by byte: what nearly every
/// body holds (a sync reads millions), several times faster than a parse by format
/// description; `None` for any other shape, which [`any_form`] reads.
fn jira_form(input: &str) -> Option<OffsetDateTime> {
    let b = input.as_bytes();
    if b.len() != 28
        || [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
        ]
        .iter()
        .any(|&(at, separator)| b[at] != separator)
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u16> {
        b[from..to].iter().try_fold(0u16, |n, digit| {
            digit
                .is_ascii_digit()
                .then(|| n * 10 + u16::from(digit - b'0'))
        })
    };
    let small = |from: usize| number(from, from + 2).map(|n| n as u8);
    let sign = match b[23] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let month = Month::try_from(small(5)?).ok()?;
    let date = Date::from_calendar_date(i32::from(number(0, 4)?), month, small(8)?).ok()?;
    let time = Time::from_hms_milli(small(11)?, small(14)?, small(17)?, number(20, 23)?).ok()?;
    let offset = UtcOffset::from_hms(
        sign * i8::try_from(small(24)?).ok()?,
        sign * i8::try_from(small(26)?).ok()?,
        0,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// Every accepted form, by format description.
fn any_form(input: &str) -> Result<JiraTimestamp, TimestampError> {
    let error = || TimestampError {
        value: input.to_owned(),
    };
    let (local, offset) = split_offset(input).ok_or_else(error)?;
    let format = if local.contains('.') {
        DATE_TIME_FRACTION
    } else if local.matches(':').count() == 1 {
        DATE_TIME_MINUTES
    } else {
        DATE_TIME
    };
    let local = PrimitiveDateTime::parse(local, format).map_err(|_| error())?;
    Ok(JiraTimestamp(local.assume_offset(offset)))
}

/// Splits `...T07:33:17.016+0000` into the local part and its offset. Accepts `Z`,
/// `+hhmm`, `+hh:mm` and `+hh`.
fn split_offset(input: &str) -> Option<(&str, UtcOffset)> {
    if let Some(local) = input.strip_suffix('Z').or_else(|| input.strip_suffix('z')) {
        return Some((local, UtcOffset::UTC));
    }
    // The offset sign is the last '+' or '-' after the 'T' separator.
    let t = input.find('T')?;
    let sign_at = t + input[t..].rfind(['+', '-'])?;
    let (local, offset) = input.split_at(sign_at);
    let negative = offset.starts_with('-');
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i8>().ok()?, 0),
        4 => (
            digits[..2].parse::<i8>().ok()?,
            digits[2..].parse::<i8>().ok()?,
        ),
        _ => return None,
    };
    let (hours, minutes) = if negative {
        (-hours, -minutes)
    } else {
        (hours, minutes)
    };
    Some((local, UtcOffset::from_hms(hours, minutes, 0).ok()?))
}

impl fmt::Display for JiraTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(JIRA_FORMAT) {
            Ok(text) => f.write_str(&text),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl Serialize for JiraTimestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JiraTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected_millis: Option<i64>) {
        let parsed = input.parse::<JiraTimestamp>().ok().map(|t| t.unix_millis());
        assert_eq!(parsed, expected_millis, "input {input:?}");
    }

    #[test]
    fn accepts_jira_and_rfc3339_forms() {
        // 2024-01-18T07:33:17.016Z is 1705563197016 ms after the epoch.
        check("2024-01-18T07:33:17.016+0000", Some(1_705_563_197_016));
        check("2024-01-18T07:33:17.016+00:00", Some(1_705_563_197_016));
        check("2024-01-18T07:33:17.016Z", Some(1_705_563_197_016));
        check("2024-01-18T09:33:17.016+0200", Some(1_705_563_197_016));
        check("2024-01-18T02:33:17.016-0500", Some(1_705_563_197_016));
        check("2024-01-18T07:33:17+0000", Some(1_705_563_197_000));
        check("2024-01-18T07:33:17.016+00", Some(1_705_563_197_016));
        check("2024-01-18T07:33Z", Some(1_705_563_180_000));
    }

    #[test]
    fn jiras_own_form_reads_as_the_general_parse_reads_it() {
        for input in [
            "2024-01-18T07:33:17.016+0000",
            "1999-12-31T23:59:59.999-1200",
            "2024-02-29T00:00:00.000+0530",
            "2023-02-29T00:00:00.000+0000",
            "2024-01-18T24:33:17.016+0000",
            "2024-01-18T07:33:17.016+2400",
            "2024-01-18T07:33:17.0a6+0000",
            "2024-01-18 07:33:17.016+0000",
            "2024-01-18T07:33:17.016*0000",
        ] {
            assert_eq!(
                jira_form(input).map(JiraTimestamp),
                any_form(input).ok(),
                "{input}"
            );
        }
        assert!(jira_form("2024-01-18T07:33:17.016+00:00").is_none());
    }

    #[test]
    fn rejects_garbage() {
        check("", None);
        check("yesterday", None);
        check("2024-01-18", None);
        check("2024-01-18T07:33:17.016+0x00", None);
        check("2024-13-18T07:33:17.016+0000", None);
    }

    #[test]
    fn writes_jira_form() {
        let t: JiraTimestamp = "2024-01-18T09:33:17.5+02:00".parse().unwrap();
        assert_eq!(t.to_string(), "2024-01-18T09:33:17.500+0200");
        let json = serde_json::to_string(&t).unwrap();
        let back: JiraTimestamp = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }
}
