//! Release dates: UTC today, or `SOURCE_DATE_EPOCH` for reproducible output.

use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DD` for a Unix timestamp (UTC).
pub fn ymd(epoch_secs: i64) -> String {
    let (y, m, d) = civil(epoch_secs);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 UTC (`2024-01-31T12:00:00Z`) for a Unix timestamp.
pub fn rfc3339(epoch_secs: i64) -> String {
    let (y, m, d) = civil(epoch_secs);
    let rem = epoch_secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// (year, month, day) of a Unix timestamp (UTC), by the days-from-civil inverse (Howard Hinnant).
fn civil(epoch_secs: i64) -> (i64, i64, i64) {
    let days = epoch_secs.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The release date: `SOURCE_DATE_EPOCH` when set (must be an integer), else now.
pub fn release_date(source_date_epoch: Option<&str>) -> Result<String, String> {
    match source_date_epoch {
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map(ymd)
            .map_err(|_| format!("SOURCE_DATE_EPOCH=`{s}` is not a Unix timestamp; unset it or give seconds since 1970")),
        None => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            Ok(ymd(now as i64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let cases: &[(i64, &str)] = &[
            (0, "1970-01-01"),
            (86_399, "1970-01-01"),
            (86_400, "1970-01-02"),
            (951_782_400, "2000-02-29"),
            (1_709_164_800, "2024-02-29"),
            (1_798_761_599, "2026-12-31"),
            (-1, "1969-12-31"),
        ];
        for (t, want) in cases {
            assert_eq!(ymd(*t), *want, "{t}");
        }
        assert_eq!(release_date(Some("86400")).unwrap(), "1970-01-02");
        assert_eq!(rfc3339(1_709_208_245), "2024-02-29T12:04:05Z");
        assert!(release_date(Some("yesterday"))
            .unwrap_err()
            .contains("SOURCE_DATE_EPOCH"));
    }
}
