//! Wall-clock time as stored (Unix milliseconds) and as shown (RFC 3339, UTC, milliseconds).

use time::{macros::format_description, OffsetDateTime};

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// `2026-11-26T22:48:53.123Z` for a stored time.
pub fn rfc3339_millis(millis: i64) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|at| at.format(format).ok())
        .unwrap_or_else(|| millis.to_string())
}

/// `3 s ago`, `5 min ago`, `2 h ago`, `4 d ago`: how long before `now` a stored time was.
pub fn relative_age(millis: i64, now: i64) -> String {
    let seconds = (now - millis).max(0) / 1000;
    match seconds {
        0..=59 => format!("{seconds} s ago"),
        60..=3_599 => format!("{} min ago", seconds / 60),
        3_600..=86_399 => format!("{} h ago", seconds / 3_600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_in_utc() {
        assert_eq!(
            rfc3339_millis(1_795_733_333_123),
            "2026-11-26T22:48:53.123Z"
        );
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(relative_age(1_000, 4_000), "3 s ago");
        assert_eq!(relative_age(0, 300_000), "5 min ago");
        assert_eq!(relative_age(0, 7_200_000), "2 h ago");
        assert_eq!(relative_age(5_000, 0), "0 s ago");
    }
}
