//! NumPy `datetime64` / `timedelta64` units: `M8[10s]`, v3 `{unit, scale_factor}`.
//!
//! Values are stored as `int64` counts of `scale × unit` since the epoch
//! (datetimes) or as durations (timedeltas); `i64::MIN` is NaT.

use std::fmt;

/// The NaT ("not a time") value of `datetime64` and `timedelta64`.
pub const NAT: i64 = i64::MIN;

/// A NumPy time unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// NumPy's generic unit (`M8` without brackets).
    Generic,
    /// Years (`Y`).
    Years,
    /// Months (`M`).
    Months,
    /// Weeks (`W`).
    Weeks,
    /// Days (`D`).
    Days,
    /// Hours (`h`).
    Hours,
    /// Minutes (`m`).
    Minutes,
    /// Seconds (`s`).
    Seconds,
    /// Milliseconds (`ms`).
    Millis,
    /// Microseconds (`us`).
    Micros,
    /// Nanoseconds (`ns`).
    Nanos,
    /// Picoseconds (`ps`).
    Picos,
    /// Femtoseconds (`fs`).
    Femtos,
    /// Attoseconds (`as`).
    Attos,
}

impl TimeUnit {
    /// Every unit, generic first.
    pub const ALL: [TimeUnit; 14] = [
        TimeUnit::Generic,
        TimeUnit::Years,
        TimeUnit::Months,
        TimeUnit::Weeks,
        TimeUnit::Days,
        TimeUnit::Hours,
        TimeUnit::Minutes,
        TimeUnit::Seconds,
        TimeUnit::Millis,
        TimeUnit::Micros,
        TimeUnit::Nanos,
        TimeUnit::Picos,
        TimeUnit::Femtos,
        TimeUnit::Attos,
    ];

    /// NumPy's (and zarr-python's v3) spelling: `Y`, `ms`, `generic`...
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Generic => "generic",
            TimeUnit::Years => "Y",
            TimeUnit::Months => "M",
            TimeUnit::Weeks => "W",
            TimeUnit::Days => "D",
            TimeUnit::Hours => "h",
            TimeUnit::Minutes => "m",
            TimeUnit::Seconds => "s",
            TimeUnit::Millis => "ms",
            TimeUnit::Micros => "us",
            TimeUnit::Nanos => "ns",
            TimeUnit::Picos => "ps",
            TimeUnit::Femtos => "fs",
            TimeUnit::Attos => "as",
        }
    }

    /// Parses a unit name (`μs` is read as `us`).
    pub fn parse(s: &str) -> Option<TimeUnit> {
        if s == "μs" {
            return Some(TimeUnit::Micros);
        }
        TimeUnit::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

/// The unit and multiplier of a `datetime64` / `timedelta64` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeSpec {
    /// The unit.
    pub unit: TimeUnit,
    /// The multiplier (`10` in `M8[10s]`), 1 to 2³¹ − 1.
    pub scale: u32,
}

impl TimeSpec {
    /// Largest scale factor zarr-python accepts (exclusive bound 2³¹).
    pub const MAX_SCALE: u32 = i32::MAX as u32;

    /// A unit with multiplier; refuses a scale outside `1..2³¹` and a
    /// generic unit with a multiplier other than 1.
    pub fn new(unit: TimeUnit, scale: u64) -> Result<TimeSpec, String> {
        if scale == 0 || scale > TimeSpec::MAX_SCALE as u64 {
            return Err(format!(
                "time scale factor {scale} is outside 1..{}",
                TimeSpec::MAX_SCALE
            ));
        }
        if unit == TimeUnit::Generic && scale != 1 {
            return Err(format!("generic time unit with scale factor {scale}"));
        }
        Ok(TimeSpec {
            unit,
            scale: scale as u32,
        })
    }

    /// The bracket NumPy puts after `M8`/`m8`: `[10s]`, `[ns]`, or nothing
    /// for the generic unit.
    pub fn numpy_suffix(self) -> String {
        match (self.unit, self.scale) {
            (TimeUnit::Generic, _) => String::new(),
            (u, 1) => format!("[{}]", u.as_str()),
            (u, n) => format!("[{n}{}]", u.as_str()),
        }
    }

    /// Parses what follows `M8`/`m8` in a NumPy type string: `""`, `"[ns]"`, `"[10s]"`.
    pub fn parse_numpy_suffix(s: &str) -> Result<TimeSpec, String> {
        if s.is_empty() {
            return Ok(TimeSpec {
                unit: TimeUnit::Generic,
                scale: 1,
            });
        }
        let inner = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .ok_or_else(|| format!("time unit {s:?} is not of the form [unit] or [Nunit]"))?;
        let digits = inner.bytes().take_while(u8::is_ascii_digit).count();
        let (num, unit) = inner.split_at(digits);
        let scale = if num.is_empty() {
            1
        } else {
            num.parse::<u64>()
                .map_err(|_| format!("time multiplier {num:?} is too large"))?
        };
        let unit = TimeUnit::parse(unit).ok_or_else(|| format!("unknown time unit {unit:?}"))?;
        if unit == TimeUnit::Generic {
            return Err(format!(
                "time unit {s:?}: generic is written without brackets"
            ));
        }
        TimeSpec::new(unit, scale)
    }
}

impl fmt::Display for TimeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.unit, self.scale) {
            (TimeUnit::Generic, _) => f.write_str("generic"),
            (u, 1) => f.write_str(u.as_str()),
            (u, n) => write!(f, "{n}{}", u.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_round_trip() {
        for u in TimeUnit::ALL {
            for scale in [1u64, 10, 2_147_483_647] {
                let Ok(t) = TimeSpec::new(u, scale) else {
                    assert_eq!(u, TimeUnit::Generic);
                    continue;
                };
                assert_eq!(TimeSpec::parse_numpy_suffix(&t.numpy_suffix()), Ok(t));
            }
        }
        assert_eq!(
            TimeSpec::new(TimeUnit::Seconds, 10).unwrap().numpy_suffix(),
            "[10s]"
        );
        assert!(TimeSpec::parse_numpy_suffix("[0s]").is_err());
        assert!(TimeSpec::parse_numpy_suffix("[2147483648s]").is_err());
        assert!(TimeSpec::parse_numpy_suffix("[99999999999999999999999s]").is_err());
        assert!(TimeSpec::parse_numpy_suffix("[xs]").is_err());
        assert!(TimeSpec::parse_numpy_suffix("[s").is_err());
        assert!(TimeSpec::parse_numpy_suffix("[generic]").is_err());
        assert_eq!(
            TimeSpec::parse_numpy_suffix("[μs]").unwrap().unit,
            TimeUnit::Micros
        );
    }
}
