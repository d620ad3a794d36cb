//! Strict parsing of `policy.csv`.
//!
//! casbin's own loaders skip lines they do not understand, so a typo (`onw` for `own`, a
//! missing column) would silently deny — or, worse, a truncated file would load as an empty
//! policy that denies everyone, including the admin who would reload a fixed one. Every line
//! is checked here first; casbin then receives the normalised text.

use std::collections::HashSet;

use super::RbacError;

/// HTTP methods a policy line (and a request) may name. `*` is allowed in policies only.
pub(super) const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// A policy file that passed validation.
#[derive(Debug)]
pub(super) struct ParsedPolicy {
    /// The rules, one per line, in the form casbin's `StringAdapter` reads.
    pub(super) normalised: String,
    /// Every role named by a `p` or `g` line: requests for any other role are denied
    /// without asking casbin (and without growing the decision cache).
    pub(super) roles: HashSet<Box<str>>,
    /// Number of `p` lines.
    pub(super) policies: usize,
    /// Number of `g` lines.
    pub(super) groupings: usize,
}

/// Validates `text` (read from `origin`, used in errors).
pub(super) fn parse(origin: &str, text: &str) -> Result<ParsedPolicy, RbacError> {
    let mut parsed = ParsedPolicy {
        normalised: String::with_capacity(text.len()),
        roles: HashSet::new(),
        policies: 0,
        groupings: 0,
    };
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let invalid = |reason: String| RbacError::Policy {
            origin: origin.to_owned(),
            line: index + 1,
            reason,
        };
        if line.contains('"') {
            return Err(invalid("quotes are not supported".to_owned()));
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.iter().any(|f| f.is_empty()) {
            return Err(invalid("empty field".to_owned()));
        }
        match fields.as_slice() {
            ["p", role, route, method, scope] => {
                if !route.starts_with('/') {
                    return Err(invalid(format!("route `{route}` does not start with `/`")));
                }
                if *method != "*" && !METHODS.contains(method) {
                    return Err(invalid(format!("unknown method `{method}`")));
                }
                if !matches!(*scope, "any" | "own") {
                    return Err(invalid(format!(
                        "scope `{scope}` is neither `any` nor `own`"
                    )));
                }
                parsed.roles.insert((*role).into());
                parsed.policies += 1;
            }
            ["g", role, inherited] => {
                parsed.roles.insert((*role).into());
                parsed.roles.insert((*inherited).into());
                parsed.groupings += 1;
            }
            ["p" | "g", ..] => {
                return Err(invalid(format!(
                    "`{}` line has {} fields; expected {}",
                    fields[0],
                    fields.len(),
                    if fields[0] == "p" { 5 } else { 3 }
                )));
            }
            [kind, ..] => return Err(invalid(format!("unknown rule type `{kind}`"))),
            [] => return Err(invalid("empty line".to_owned())),
        }
        parsed.normalised.push_str(&fields.join(", "));
        parsed.normalised.push('\n');
    }
    if parsed.policies == 0 {
        return Err(RbacError::Policy {
            origin: origin.to_owned(),
            line: 0,
            reason: "no `p` rules: refusing a policy that denies everyone".to_owned(),
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> String {
        match parse("t.csv", text) {
            Err(RbacError::Policy { reason, .. }) => reason,
            other => panic!("expected a policy error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_comments_blank_lines_and_odd_spacing() {
        let p = parse(
            "t.csv",
            "# c\n\n  p,viewer ,/v1/x,GET,any \r\ng, trader, viewer\n",
        )
        .unwrap();
        assert_eq!(
            p.normalised,
            "p, viewer, /v1/x, GET, any\ng, trader, viewer\n"
        );
        assert_eq!((p.policies, p.groupings), (1, 1));
        assert!(p.roles.contains("trader") && p.roles.contains("viewer"));
    }

    #[test]
    fn rejects_malformed_lines_with_their_number() {
        let err = parse("t.csv", "p, a, /x, GET, any\np, a, /x, GET, onw\n").unwrap_err();
        assert!(matches!(err, RbacError::Policy { line: 2, .. }), "{err}");
        assert!(reason("p, a, /x, GET\n").contains("4 fields"));
        assert!(reason("p, a, /x, GET, any, extra\n").contains("6 fields"));
        assert!(reason("g, a\n").contains("expected 3"));
        assert!(reason("p, a, x, GET, any\n").contains("does not start"));
        assert!(reason("p, a, /x, get, any\n").contains("unknown method"));
        assert!(reason("p, a, /x, GET, ,\n").contains("empty field"));
        assert!(reason("q, a, /x, GET, any\n").contains("unknown rule type"));
        assert!(reason("p, \"a\", /x, GET, any\n").contains("quotes"));
    }

    #[test]
    fn rejects_a_policy_without_rules() {
        assert!(reason("# nothing\ng, a, b\n").contains("no `p` rules"));
    }
}
