//! Which capability a `resources/read` URI belongs to, and the URI its engine knows.
//!
//! A capability with a scheme prefix (`shipyard+`, `skipper_compiler::routes::
//! URI_SCHEME_JOINER`) has every URI listed behind it; the prefix is stripped again on
//! read. A capability served without a prefix is found by the URIs its document declares
//! (`McpResources::uris`): a static resource's URI, or a directory's base and everything
//! under it, or a template whose every `{var}` matches one path segment — the engine's
//! own matching (engine: `ResourceHandler.matchTemplate`, modelled by the engine double's
//! `_match_template`). The first capability in table order that matches wins.

use skipper_compiler::routes::McpResources;

/// The capability's entry and the URI to send upstream.
pub fn route<'t>(resources: &'t [McpResources], uri: &str) -> Option<(&'t McpResources, String)> {
    let prefixed = resources.iter().filter(|r| !r.scheme_prefix.is_empty()).find_map(|r| {
        uri.strip_prefix(r.scheme_prefix.as_str())
            .map(|rest| (r, rest.to_string()))
    });
    prefixed.or_else(|| {
        resources
            .iter()
            .filter(|r| r.scheme_prefix.is_empty())
            .find(|r| r.uris.iter().any(|declared| declares(declared, uri)))
            .map(|r| (r, uri.to_string()))
    })
}

/// The URI a client sees for one the engine gave.
pub fn public_uri(entry: &McpResources, uri: &str) -> String {
    format!("{}{uri}", entry.scheme_prefix)
}

fn declares(declared: &str, uri: &str) -> bool {
    if declared.contains('{') {
        matches_template(declared, uri)
    } else {
        uri == declared || uri.strip_prefix(declared).is_some_and(|rest| rest.starts_with('/'))
    }
}

/// `{name}` matches one or more characters other than `/`; everything else literally.
pub fn matches_template(template: &str, uri: &str) -> bool {
    match template.find('{') {
        None => template == uri,
        Some(open) => {
            let Some(close) = template[open..].find('}').map(|c| open + c) else {
                return template == uri;
            };
            let (literal, rest) = (&template[..open], &template[close + 1..]);
            let Some(tail) = uri.strip_prefix(literal) else {
                return false;
            };
            // Try every length of the segment the variable takes.
            let segment = tail.find('/').unwrap_or(tail.len());
            (1..=segment).any(|taken| tail.is_char_boundary(taken) && matches_template(rest, &tail[taken..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(capability: &str, prefix: &str, uris: &[&str]) -> McpResources {
        McpResources {
            capability: capability.into(),
            scheme_prefix: prefix.into(),
            uris: uris.iter().map(|u| u.to_string()).collect(),
        }
    }

    #[test]
    fn templates_take_one_segment_per_variable() {
        assert!(matches_template("ships://{id}", "ships://42"));
        assert!(!matches_template("ships://{id}", "ships://42/crew"));
        assert!(!matches_template("ships://{id}", "ships://"));
        assert!(matches_template("ships://{id}/crew/{n}", "ships://42/crew/7"));
        assert!(matches_template("a://{x}.json", "a://b.c.json"));
        assert!(!matches_template("a://{x}.json", "a://b/c.json"));
    }

    #[test]
    fn prefixes_are_stripped_and_bare_uris_found_by_declaration() {
        let table = [
            entry("shipyard", "shipyard+", &["data://ships"]),
            entry("docs", "", &["docs://guides", "ships://{id}"]),
        ];
        let (hit, upstream) = route(&table, "shipyard+data://ships/1").unwrap();
        assert_eq!(
            (hit.capability.as_str(), upstream.as_str()),
            ("shipyard", "data://ships/1")
        );
        assert_eq!(route(&table, "docs://guides/intro.md").unwrap().0.capability, "docs");
        assert_eq!(route(&table, "ships://9").unwrap().1, "ships://9");
        assert!(route(&table, "docs://guidesx").is_none());
        assert!(
            route(&table, "data://ships/1").is_none(),
            "a prefixed capability's bare URI is not routed"
        );
        assert_eq!(public_uri(&table[0], "data://ships/1"), "shipyard+data://ships/1");
    }
}
