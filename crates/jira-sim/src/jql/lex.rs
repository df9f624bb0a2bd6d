//! Reading a query's text: its tokens (words, quoted strings, operators, parentheses,
//! commas) and the dates a `created`/`updated` clause compares against (relative periods,
//! epoch milliseconds, wall-clock dates in the searching user's zone).

use jiff::tz::TimeZone;
use time::macros::format_description;
use time::{Date, PrimitiveDateTime};

use super::Token;

pub(super) fn tokenize(jql: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = jql.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            ',' => {
                chars.next();
                tokens.push(Token::Comma);
            }
            '=' => {
                chars.next();
                tokens.push(Token::Op("="));
            }
            '~' => {
                chars.next();
                tokens.push(Token::Op("~"));
            }
            '!' if jql[at + 1..].starts_with('~') => {
                chars.next();
                chars.next();
                tokens.push(Token::Op("!~"));
            }
            '!' | '>' | '<' => {
                chars.next();
                let with_eq = chars.peek().is_some_and(|&(_, n)| n == '=');
                if with_eq {
                    chars.next();
                }
                tokens.push(Token::Op(match (c, with_eq) {
                    ('!', true) => "!=",
                    ('>', true) => ">=",
                    ('<', true) => "<=",
                    ('>', false) => ">",
                    ('<', false) => "<",
                    _ => {
                        return Err(format!(
                            "Error in the JQL Query: The character '!' is a reserved JQL character. (line 1, character {})",
                            at + 1
                        ));
                    }
                }));
            }
            '"' | '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => {
                            if let Some((_, escaped)) = chars.next() {
                                text.push(escaped);
                            }
                        }
                        Some((_, q)) if q == c => break,
                        Some((_, other)) => text.push(other),
                        None => {
                            return Err(format!(
                                "Error in the JQL Query: The quoted string starting at character {} is not terminated.",
                                at + 1
                            ));
                        }
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            _ => {
                let mut word = String::new();
                while let Some(&(_, n)) = chars.peek() {
                    if n.is_whitespace() || "()=,!<>~\"'".contains(n) {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// A relative period (`-7d`, `-2w`, `-12h`, `-30m`, `+1d`), epoch milliseconds, or an
/// absolute date (`2024-01-18`, `2024/01/18 10:00`, read as a wall-clock time in `zone`)
/// in epoch milliseconds.
pub(super) fn parse_date(value: &str, now_ms: i64, zone: &TimeZone) -> Option<i64> {
    let value = value.trim();
    // Epoch milliseconds, as exports write their cursor (no time zone to get wrong).
    if value.len() >= 10 && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok();
    }
    if let Some(sign) = value.chars().next().filter(|c| *c == '-' || *c == '+') {
        let mut total_ms: i64 = 0;
        for part in value[1..].split_whitespace() {
            let (number, unit) = part.split_at(part.len().checked_sub(1)?);
            let number: i64 = number.parse().ok()?;
            let unit_ms = match unit {
                "w" => 7 * 86_400_000,
                "d" => 86_400_000,
                "h" => 3_600_000,
                "m" => 60_000,
                _ => return None,
            };
            total_ms += number * unit_ms;
        }
        return Some(if sign == '-' {
            now_ms - total_ms
        } else {
            now_ms + total_ms
        });
    }
    let normalized = value.replace('/', "-");
    let date_time = format_description!("[year]-[month]-[day] [hour]:[minute]");
    let date_only = format_description!("[year]-[month]-[day]");
    let wall = PrimitiveDateTime::parse(&normalized, date_time)
        .ok()
        .or_else(|| {
            Date::parse(&normalized, date_only)
                .ok()
                .map(|d| d.midnight())
        })?;
    // The wall-clock time in the zone (a time that falls in a DST gap or overlap is taken
    // as Temporal's "compatible" rule takes it: the later instant in a gap, the earlier in
    // an overlap).
    let civil = jiff::civil::datetime(
        i16::try_from(wall.year()).ok()?,
        u8::from(wall.month()) as i8,
        wall.day() as i8,
        wall.hour() as i8,
        wall.minute() as i8,
        0,
        0,
    );
    Some(
        civil
            .to_zoned(zone.clone())
            .ok()?
            .timestamp()
            .as_millisecond(),
    )
}
