//! The string patterns of `ikanos-schema.json` that Skipper checks, as plain functions.

/// `berthsToken` → `BERTHS_TOKEN`, `api-key` → `API_KEY`.
pub(super) fn screaming_snake(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(if c == '-' || c == '.' {
            '_'
        } else {
            c.to_ascii_uppercase()
        });
    }
    out
}

pub(super) fn has_uri_scheme(s: &str) -> bool {
    match s.split_once("://") {
        Some((scheme, _)) => {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        }
        None => false,
    }
}

pub(super) fn is_variable_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

pub(super) fn is_base_uri(s: &str) -> bool {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    !host.is_empty() && !path.contains('{')
}

pub(super) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    matches!(
        (num(0..4), num(5..7), num(8..10)),
        (Some(_), Some(1..=12), Some(1..=31))
    )
}

pub(super) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    !local.is_empty()
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
        && domain.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

pub(super) fn is_address(s: &str) -> bool {
    let hostname = s.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    let ipv6 = s.contains(':')
        && s.chars().all(|c| c.is_ascii_hexdigit() || c == ':')
        && (2..=7).contains(&s.matches(':').count());
    hostname || ipv6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_the_schema() {
        assert!(is_date("2026-03-27"));
        assert!(!is_date("2026-13-01"));
        assert!(is_email("ops@shipyard.example"));
        assert!(!is_email("ops@localhost"));
        assert!(is_address("0.0.0.0") && is_address("localhost") && is_address("::1") && is_address("fe80::1"));
        assert!(!is_address("bad host"));
        assert!(is_base_uri("https://mocks.naftiko.net/rest/x/1.0.0-alpha2"));
        assert!(!is_base_uri("https://api/{{v}}/x"));
        assert!(has_uri_scheme("file:///./shared/secrets.yaml") && !has_uri_scheme("./x"));
        assert!(is_variable_name("REGISTRY_TOKEN") && !is_variable_name("registry_token"));
        assert_eq!(screaming_snake("berthsToken"), "BERTHS_TOKEN");
        assert_eq!(screaming_snake("api-key"), "API_KEY");
    }
}
