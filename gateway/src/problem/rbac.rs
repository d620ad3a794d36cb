//! RBAC policy (re)load failures as problems: [`from_rbac`].

use axum::http::StatusCode;

use super::Problem;
use crate::rbac::RbacError;

/// Maps a policy that could not be (re)loaded to the answer of
/// `POST /v1/admin/policies/reload`; the previous policy stays in force.
///
/// | error | status | code |
/// |---|---|---|
/// | a malformed policy line, an empty policy, or a model casbin refuses | 422 | `policy_invalid` |
/// | a model or policy file that cannot be read | 422 | `policy_unreadable` |
///
/// 422 rather than 500: the gateway is healthy and still enforcing the previous policy; it
/// is the content of the files the caller asked it to apply that cannot be processed, and
/// the caller fixes them and asks again. 400 would blame the request, which has no body.
///
/// Unlike other 4xx details, `detail` here names the file, the line and the reason: only an
/// admin reaches this route, and they need exactly that to fix the file. A `Policy` error
/// also carries its 1-based `line` as an extension member (absent for whole-file faults).
#[must_use]
pub fn from_rbac(error: &RbacError) -> Problem {
    let (code, title) = match error {
        RbacError::Policy { .. } | RbacError::Model { .. } => ("policy_invalid", "Invalid policy"),
        RbacError::Read { .. } => ("policy_unreadable", "Policy unreadable"),
    };
    let problem = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, title)
        .with_detail(format!("{error}. The previous policy stays in force."));
    match error {
        RbacError::Policy { line, .. } if *line > 0 => problem.with_extension("line", *line),
        _ => problem,
    }
}

impl From<&RbacError> for Problem {
    fn from(error: &RbacError) -> Self {
        from_rbac(error)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn every_rbac_error_has_a_stable_problem() {
        let policy = RbacError::Policy {
            origin: "/etc/tp/policy.csv".into(),
            line: 12,
            reason: "scope `onw` is neither `any` nor `own`".into(),
        };
        let empty = RbacError::Policy {
            origin: "/etc/tp/policy.csv".into(),
            line: 0,
            reason: "no `p` rules".into(),
        };
        let model = RbacError::Model {
            origin: "/etc/tp/model.conf".into(),
            source: "bad matcher".into(),
        };
        let read = RbacError::Read {
            path: "/etc/tp/policy.csv".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        for (error, code, line) in [
            (&policy, "policy_invalid", Some(12)),
            (&empty, "policy_invalid", None),
            (&model, "policy_invalid", None),
            (&read, "policy_unreadable", None),
        ] {
            let problem = Problem::from(error);
            assert_eq!(
                problem.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{error}"
            );
            assert_eq!(problem.code(), code, "{error}");
            let detail = problem.detail().unwrap();
            assert!(detail.contains("/etc/tp/"), "{detail}");
            assert!(
                detail.ends_with("The previous policy stays in force."),
                "{detail}"
            );
            let body = problem.to_json();
            assert_eq!(body.get("line").and_then(Value::as_u64), line, "{error}");
        }
    }
}
