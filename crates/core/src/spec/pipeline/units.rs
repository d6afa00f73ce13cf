//! The small value types of pipeline files: durations (`30s`, `1h30m`),
//! percentages (`5%`) and cron schedules. Parsing only; nothing here reads
//! a clock.

use serde::{Deserialize, Serialize};

/// A duration written as `<n><unit>` parts, largest unit first: `d`, `h`,
/// `m`, `s` (`90s`, `5m`, `1h30m`, `7d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Duration {
    pub seconds: u64,
}

impl Duration {
    pub fn parse(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        let expected = || {
            format!("`{text}` is not a duration; write a number with a unit, like 30s, 5m, 24h or 1h30m")
        };
        if t.is_empty() {
            return Err(expected());
        }
        let mut seconds: u64 = 0;
        let mut digits = String::new();
        let mut last_rank = usize::MAX;
        for c in t.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let (rank, unit) = match c {
                'd' => (3, 86_400),
                'h' => (2, 3_600),
                'm' => (1, 60),
                's' => (0, 1),
                _ => return Err(expected()),
            };
            if digits.is_empty() || rank >= last_rank {
                return Err(expected());
            }
            let n: u64 = digits.parse().map_err(|_| expected())?;
            seconds = n
                .checked_mul(unit)
                .and_then(|v| seconds.checked_add(v))
                .ok_or_else(|| format!("`{text}` is too long a duration"))?;
            digits.clear();
            last_rank = rank;
        }
        if !digits.is_empty() {
            return Err(format!(
                "`{text}` has no unit; write {digits}s, {digits}m or {digits}h"
            ));
        }
        Ok(Duration { seconds })
    }

    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds)
    }
}

/// A percentage from 0 to 100, written `5%` (or a bare number where the
/// key says it is a percent, like a strategy's `percent: 10`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Percent(pub f64);

impl Percent {
    pub fn parse(text: &str, bare_ok: bool) -> Result<Percent, String> {
        let t = text.trim();
        let number = match t.strip_suffix('%') {
            Some(n) => n.trim(),
            None if bare_ok => t,
            None => {
                return Err(format!(
                    "`{text}` is not a percentage; write it with a %, like 5%"
                ))
            }
        };
        match number.parse::<f64>() {
            Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Ok(Percent(p)),
            _ => Err(format!("`{text}` is not a percentage from 0% to 100%")),
        }
    }
}

/// A five-field cron expression (minute hour day-of-month month
/// day-of-week), in local time, or one of the `@daily`-style shorthands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cron(pub String);

const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const SHORTHANDS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let t = text.trim();
        if SHORTHANDS.contains(&t) {
            return Ok(Cron(t.to_string()));
        }
        let fields: Vec<&str> = t.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "`{text}` is not a cron schedule: expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            ));
        }
        for (i, field) in fields.iter().enumerate() {
            check_field(field, i).map_err(|m| format!("`{text}`: {m}"))?;
        }
        Ok(Cron(t.to_string()))
    }
}

fn check_field(field: &str, index: usize) -> Result<(), String> {
    let (name, min, max) = FIELDS[index];
    let value = |s: &str| -> Result<u32, String> {
        let upper = s.to_ascii_uppercase();
        let named = match index {
            3 => MONTHS
                .iter()
                .position(|m| *m == upper)
                .map(|i| i as u32 + 1),
            4 => DAYS.iter().position(|d| *d == upper).map(|i| i as u32),
            _ => None,
        };
        let n = named
            .or_else(|| s.parse::<u32>().ok())
            .ok_or_else(|| format!("`{s}` is not a valid {name}"))?;
        if n < min || n > max {
            return Err(format!("{name} {n} is out of range {min}-{max}"));
        }
        Ok(n)
    };
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(n) if n >= 1 && n <= max.max(1) => {}
                _ => return Err(format!("`{step}` is not a valid step for the {name}")),
            }
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (value(a)?, value(b)?);
                if a > b {
                    return Err(format!("{name} range {a}-{b} runs backwards"));
                }
            }
            None => {
                value(range)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(Duration::parse("30s").unwrap().seconds, 30);
        assert_eq!(Duration::parse("5m").unwrap().seconds, 300);
        assert_eq!(Duration::parse("24h").unwrap().seconds, 86_400);
        assert_eq!(Duration::parse("1h30m").unwrap().seconds, 5_400);
        assert_eq!(Duration::parse("7d").unwrap().seconds, 604_800);
        assert!(Duration::parse("30").unwrap_err().contains("no unit"));
        assert!(Duration::parse("5 minutes").is_err());
        assert!(Duration::parse("30m1h").is_err());
        assert!(Duration::parse("99999999999999999999d").is_err());
    }

    #[test]
    fn percentages_need_a_percent_sign_unless_the_key_says_percent() {
        assert_eq!(Percent::parse("5%", false).unwrap(), Percent(5.0));
        assert_eq!(Percent::parse("10", true).unwrap(), Percent(10.0));
        assert!(Percent::parse("10", false).is_err());
        assert!(Percent::parse("150%", false).is_err());
    }

    #[test]
    fn cron_fields_are_checked() {
        assert!(Cron::parse("0 3 * * *").is_ok());
        assert!(Cron::parse("*/15 9-17 * * MON-FRI").is_ok());
        assert!(Cron::parse("0 0 1,15 JAN *").is_ok());
        assert!(Cron::parse("@daily").is_ok());
        assert!(Cron::parse("0 3 * *").unwrap_err().contains("5 fields"));
        assert!(Cron::parse("60 3 * * *").unwrap_err().contains("minute 60"));
        assert!(Cron::parse("0 25 * * *").unwrap_err().contains("hour 25"));
        assert!(Cron::parse("0 0 * * FUNDAY").is_err());
        assert!(Cron::parse("0 5-1 * * *")
            .unwrap_err()
            .contains("backwards"));
    }
}
