//! Durations, Kubernetes quantities and percentages: parsed once, with the user's
//! spelling kept for output and a number kept for comparisons.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A duration such as `500ms`, `30s`, `1m30s`, `2h`. Stored in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(into = "String", try_from = "String")]
#[schemars(with = "String")]
pub struct Duration {
    millis: u64,
}

impl Duration {
    pub const fn from_millis(millis: u64) -> Self {
        Duration { millis }
    }

    pub const fn from_secs(secs: u64) -> Self {
        Duration { millis: secs * 1000 }
    }

    pub fn as_millis(&self) -> u64 {
        self.millis
    }

    pub fn as_secs_f64(&self) -> f64 {
        self.millis as f64 / 1000.0
    }

    /// Whole seconds, rounded up (Kubernetes fields such as probe periods take seconds).
    pub fn as_secs_ceil(&self) -> u64 {
        self.millis.div_ceil(1000)
    }

    /// Parses Go-style durations: a sequence of `<number><unit>` with units
    /// `ms`, `s`, `m`, `h`, `d`. A bare number is rejected: it is ambiguous.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("a duration cannot be empty".into());
        }
        const INEXACT: &str = "durations are whole milliseconds and at most a few thousand years";
        // Exact decimal arithmetic, not f64: `1.001s` is 1001ms, which `1.001 * 1000.0`
        // (1000.9999999999999) would reject as not whole.
        let mut total: u128 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if num_len == 0 {
                return Err(format!("expected a number at `{rest}`"));
            }
            let number = &rest[..num_len];
            let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
            if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
                return Err(format!("`{number}` is not a number"));
            }
            rest = &rest[num_len..];
            let unit_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            let factor: u128 = match unit {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "" if rest.is_empty() => return Err("a number needs a unit".into()),
                "" => return Err(format!("unexpected `{rest}` (write units without spaces)")),
                other => return Err(format!("unknown unit `{other}`")),
            };
            // Bounded digit counts keep the arithmetic in u128; longer numbers are far
            // beyond the limit or finer than a millisecond anyway.
            let whole = whole.trim_start_matches('0');
            let fraction = fraction.trim_end_matches('0');
            if whole.len() > 20 || fraction.len() > 30 {
                return Err(INEXACT.into());
            }
            let digits = |d: &str| d.bytes().fold(0u128, |n, b| n * 10 + u128::from(b - b'0'));
            let scale = 10u128.pow(fraction.len() as u32);
            let part = digits(fraction) * factor;
            if part % scale != 0 {
                return Err(INEXACT.into());
            }
            total += digits(whole) * factor + part / scale;
            rest = &rest[unit_len..];
        }
        if total > 1_000_000_000_000_000 {
            return Err(INEXACT.into());
        }
        Ok(Duration { millis: total as u64 })
    }
}

impl fmt::Display for Duration {
    /// The shortest exact spelling: `90s` → `1m30s`, `1500ms` → `1500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.millis;
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms % 1000 != 0 {
            return write!(f, "{ms}ms");
        }
        let mut secs = ms / 1000;
        let h = secs / 3600;
        secs %= 3600;
        let m = secs / 60;
        secs %= 60;
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if secs > 0 {
            write!(f, "{secs}s")?;
        }
        Ok(())
    }
}

impl From<Duration> for String {
    fn from(d: Duration) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for Duration {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Duration::parse(&s)
    }
}

/// A Kubernetes resource quantity (`100m`, `0.5`, `128Mi`, `1G`, `1e3`), kept as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(into = "String", try_from = "String")]
#[schemars(with = "String")]
pub struct Quantity {
    text: String,
    /// Value in base units (cores, bytes), for comparisons such as requests ≤ limits.
    #[schemars(skip)]
    value: f64,
}

impl Quantity {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (number, suffix) = split_quantity(t).ok_or_else(|| format!("`{t}` is not a Kubernetes quantity"))?;
        let base: f64 = number.parse().map_err(|_| format!("`{number}` is not a number"))?;
        let factor = match suffix {
            "" => 1.0,
            "n" => 1e-9,
            "u" => 1e-6,
            "m" => 1e-3,
            "k" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            "T" => 1e12,
            "P" => 1e15,
            "E" => 1e18,
            "Ki" => 1024.0,
            "Mi" => 1024f64.powi(2),
            "Gi" => 1024f64.powi(3),
            "Ti" => 1024f64.powi(4),
            "Pi" => 1024f64.powi(5),
            "Ei" => 1024f64.powi(6),
            exp if exp.starts_with(['e', 'E']) => {
                let e: i32 = exp[1..].parse().map_err(|_| format!("`{exp}` is not an exponent"))?;
                10f64.powi(e)
            }
            other => {
                return Err(format!(
                    "unknown suffix `{other}` (binary: Ki Mi Gi Ti Pi Ei; decimal: m k M G T P E)"
                ));
            }
        };
        if base < 0.0 {
            return Err("a resource quantity cannot be negative".into());
        }
        Ok(Quantity {
            text: t.to_string(),
            value: base * factor,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn value(&self) -> f64 {
        self.value
    }
}

fn split_quantity(t: &str) -> Option<(&str, &str)> {
    let t = t.strip_prefix('+').unwrap_or(t);
    let end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, suffix) = t.split_at(end);
    let valid_number = !number.is_empty() && number.bytes().filter(|&b| b == b'.').count() <= 1 && number != ".";
    valid_number.then_some((number, suffix))
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<Quantity> for String {
    fn from(q: Quantity) -> String {
        q.text
    }
}

impl TryFrom<String> for Quantity {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Quantity::parse(&s)
    }
}

/// A percentage between 0 and 100: `1%`, `0.5%`, or a plain number meaning percent.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Percent(pub f64);

impl Percent {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let number = t.strip_suffix('%').unwrap_or(t).trim_end();
        let value: f64 = number.parse().map_err(|_| format!("`{t}` is not a percentage"))?;
        Percent::new(value)
    }

    pub fn new(value: f64) -> Result<Self, String> {
        if !value.is_finite() || !(0.0..=100.0).contains(&value) {
            return Err(format!("{value} is outside 0%..100%"));
        }
        Ok(Percent(value))
    }

    /// As a ratio between 0 and 1.
    pub fn ratio(&self) -> f64 {
        self.0 / 100.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_exactly() {
        let cases = [
            ("500ms", 500, "500ms"),
            ("30s", 30_000, "30s"),
            ("1m30s", 90_000, "1m30s"),
            ("90s", 90_000, "1m30s"),
            ("2h", 7_200_000, "2h"),
            ("1.5s", 1500, "1500ms"),
            ("512.011s", 512_011, "512011ms"),
            ("0.25m", 15_000, "15s"),
            ("1d", 86_400_000, "24h"),
        ];
        for (text, millis, printed) in cases {
            let d = Duration::parse(text).unwrap();
            assert_eq!(d.as_millis(), millis, "{text}");
            assert_eq!(d.to_string(), printed, "{text}");
        }
    }

    #[test]
    fn bad_durations_say_why() {
        assert_eq!(Duration::parse("5").unwrap_err(), "a number needs a unit");
        assert_eq!(
            Duration::parse("5 minutes").unwrap_err(),
            "unexpected ` minutes` (write units without spaces)"
        );
        assert_eq!(Duration::parse("5min").unwrap_err(), "unknown unit `min`");
        assert!(Duration::parse("").is_err());
        assert!(Duration::parse("m").is_err());
    }

    #[test]
    fn quantities_follow_kubernetes() {
        assert_eq!(Quantity::parse("100m").unwrap().value(), 0.1);
        assert_eq!(Quantity::parse("128Mi").unwrap().value(), 134_217_728.0);
        assert_eq!(Quantity::parse("1G").unwrap().value(), 1e9);
        assert_eq!(Quantity::parse("1e3").unwrap().value(), 1000.0);
        assert_eq!(Quantity::parse("0.5").unwrap().value(), 0.5);
        assert!(Quantity::parse("128MB").is_err());
        assert!(Quantity::parse("lots").is_err());
        assert!(Quantity::parse("1.2.3").is_err());
        assert!(Quantity::parse("").is_err());
    }

    #[test]
    fn percentages_are_bounded() {
        assert_eq!(Percent::parse("1%").unwrap().ratio(), 0.01);
        assert_eq!(Percent::parse("99.9").unwrap().0, 99.9);
        assert!(Percent::parse("150%").is_err());
        assert!(Percent::parse("-1%").is_err());
        assert!(Percent::parse("one percent").is_err());
    }
}
