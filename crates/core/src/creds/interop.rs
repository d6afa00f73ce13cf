//! The formats other AWS tools read: the `credential_process` JSON
//! (Version 1) and shell `export` lines. This module only formats what it is
//! given; printing is the caller's business.

use super::session::Injection;
use crate::clock::Millis;

/// The `credential_process` document the AWS CLI and SDKs accept.
pub fn process_json(injection: &Injection) -> serde_json::Value {
    let get = |name: &str| {
        injection
            .env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    serde_json::json!({
        "Version": 1,
        "AccessKeyId": get("AWS_ACCESS_KEY_ID"),
        "SecretAccessKey": get("AWS_SECRET_ACCESS_KEY"),
        "SessionToken": get("AWS_SESSION_TOKEN"),
        "Expiration": rfc3339(injection.expiration),
    })
}

/// `export NAME='value'` lines for a POSIX shell's `eval`.
pub fn export_lines(injection: &Injection) -> String {
    let mut out = String::new();
    for (name, value) in &injection.env {
        out.push_str(&format!(
            "export {name}='{}'\n",
            value.replace('\'', "'\\''")
        ));
    }
    out
}

/// `2024-05-01T12:00:00Z` for Unix milliseconds (UTC, whole seconds).
pub fn rfc3339(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800_999), "2024-05-01T12:00:00Z");
    }

    #[test]
    fn export_lines_quote_for_the_shell() {
        let inj = Injection {
            env: vec![("A".into(), "it's".into())],
            ..Injection::default()
        };
        assert_eq!(export_lines(&inj), "export A='it'\\''s'\n");
    }
}
