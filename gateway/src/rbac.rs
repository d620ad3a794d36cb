//! Role-based access control: may a caller with these roles call this route?
//!
//! The policy is a casbin model ([`DEFAULT_MODEL`]) and a CSV policy ([`DEFAULT_POLICY`]),
//! both shipped in `gateway/policy/` and compiled in, so the binary works from any directory;
//! [`Authorizer::load`] reads them from configurable paths instead, and
//! [`Authorizer::reload`] re-reads those paths and swaps the new policy in atomically.
//!
//! Design decisions:
//! - **Objects are route templates** (`/v1/orders/{id}`), never concrete paths: the set of
//!   distinct requests stays small, so every decision can be cached.
//! - **Ownership is resolved by the caller**, who knows the account that owns the resource,
//!   and passed as [`Ownership`]. A policy line with scope `own` allows only
//!   [`Ownership::Own`]; [`Ownership::NotApplicable`] satisfies only scope `any`, so a
//!   handler that forgets to resolve ownership is denied rather than let through.
//! - **Several roles**: the request is allowed if any role allows it. casbin is asked once
//!   per role and each answer is cached per role.
//! - **Hot path**: [`Authorizer::check`] is synchronous; a cache hit is two uncontended read
//!   locks and a hash lookup on borrowed strings, no allocation. casbin itself (tens of µs
//!   at 20 rules, ~ms at 1,000: every rule runs through rhai) runs only on a miss.
//! - **Fail closed**: unknown roles, unknown methods and casbin evaluation errors deny.
//! - **Strict loading**: every policy line is validated (casbin skips malformed lines
//!   silently); a policy with no rules is refused; the model is probed once. A failed
//!   reload keeps the previous policy.

mod cache;
mod policy_file;
#[cfg(test)]
mod tests;

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use casbin::{CoreApi, DefaultModel, Enforcer, StringAdapter};

use cache::{DecisionCache, KeyRef};
use policy_file::METHODS;

/// The shipped casbin model (`gateway/policy/model.conf`).
pub const DEFAULT_MODEL: &str = include_str!("../policy/model.conf");
/// The shipped policy (`gateway/policy/policy.csv`).
pub const DEFAULT_POLICY: &str = include_str!("../policy/policy.csv");

/// How the requested resource relates to the caller's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ownership {
    /// The resource (or the account a list or bulk action targets) is the caller's own.
    Own,
    /// The resource belongs to another account.
    Other,
    /// The route has no owner (market data, jobs, admin actions).
    NotApplicable,
}

impl Ownership {
    /// The value of `r.own` in the casbin request.
    const fn as_str(self) -> &'static str {
        match self {
            Self::Own => "own",
            Self::Other => "other",
            Self::NotApplicable => "na",
        }
    }

    /// `Own` when the resource's owner is the caller's account, `Other` otherwise.
    #[must_use]
    pub fn of(owner: &str, caller_account: &str) -> Self {
        if owner == caller_account {
            Self::Own
        } else {
            Self::Other
        }
    }
}

/// The outcome of [`Authorizer::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum Decision {
    /// At least one of the caller's roles allows the request.
    Allow,
    /// No role allows it (or it could not be evaluated).
    Deny,
}

impl Decision {
    /// `true` for [`Decision::Allow`].
    #[must_use]
    pub const fn is_allowed(self) -> bool {
        matches!(self, Self::Allow)
    }
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    /// A model or policy file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A policy line is malformed (`line` is 1-based; 0 for the file as a whole).
    #[error("invalid policy {origin}:{line}: {reason}")]
    Policy {
        /// The policy's path, or `<embedded>`.
        origin: String,
        /// The offending line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// casbin rejected the model, or the model cannot evaluate a probe request.
    #[error("invalid casbin model {origin}: {source}")]
    Model {
        /// The model's path, or `<embedded>`.
        origin: String,
        /// casbin's error.
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// Counts of the rules in a loaded policy, for logs and the reload endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicySummary {
    /// `p` lines.
    pub policies: usize,
    /// `g` (role inheritance) lines.
    pub groupings: usize,
}

/// Where the model and policy come from.
#[derive(Debug, Clone)]
enum Source {
    Files { model: PathBuf, policy: PathBuf },
    Embedded,
}

/// One loaded policy generation: the enforcer, the roles it knows, and its decisions.
struct Snapshot {
    enforcer: Enforcer,
    roles: std::collections::HashSet<Box<str>>,
    cache: DecisionCache,
    summary: PolicySummary,
}

impl Snapshot {
    fn allows(&self, role: &str, method: &'static str, route: &str, ownership: Ownership) -> bool {
        let key = KeyRef {
            role,
            method,
            route,
            ownership,
        };
        if let Some(allowed) = self.cache.get(key) {
            return allowed;
        }
        if !self.roles.contains(role) {
            return false;
        }
        match self
            .enforcer
            .enforce((role, route, method, ownership.as_str()))
        {
            Ok(allowed) => {
                self.cache.insert(key, allowed);
                allowed
            }
            Err(error) => {
                // Not cached: the error is logged on every occurrence until fixed.
                tracing::error!(%error, role, method, route, "rbac: casbin evaluation failed; denying");
                false
            }
        }
    }
}

/// The gateway's RBAC policy, shared by all requests (`Send + Sync`; wrap it in an `Arc`).
pub struct Authorizer {
    source: Source,
    current: RwLock<Arc<Snapshot>>,
    /// Serialises reloads (an admin request and a SIGHUP may race): without it, a reload
    /// that read the files first could swap its older policy in after a later one.
    reloading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("source", &self.source)
            .field("summary", &self.summary())
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// Loads the model and policy from files; [`Authorizer::reload`] re-reads the same paths.
    ///
    /// # Errors
    /// [`RbacError::Read`] if a file cannot be read, [`RbacError::Policy`] for a malformed
    /// policy line or a policy with no rules, [`RbacError::Model`] if casbin rejects the model.
    pub async fn load(
        model_path: impl AsRef<Path>,
        policy_path: impl AsRef<Path>,
    ) -> Result<Self, RbacError> {
        Self::from_source(Source::Files {
            model: model_path.as_ref().to_path_buf(),
            policy: policy_path.as_ref().to_path_buf(),
        })
        .await
    }

    /// The compiled-in model and policy ([`DEFAULT_MODEL`], [`DEFAULT_POLICY`]).
    ///
    /// # Errors
    /// Only if the shipped files are broken, which the tests rule out.
    pub async fn embedded() -> Result<Self, RbacError> {
        Self::from_source(Source::Embedded).await
    }

    async fn from_source(source: Source) -> Result<Self, RbacError> {
        let snapshot = build(&source).await?;
        tracing::info!(
            policies = snapshot.summary.policies,
            groupings = snapshot.summary.groupings,
            "rbac: policy loaded"
        );
        Ok(Self {
            source,
            current: RwLock::new(Arc::new(snapshot)),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// Re-reads the model and policy and swaps them in; checks running meanwhile finish on
    /// the old policy. The decision cache starts empty. An [`Authorizer::embedded`] policy
    /// is rebuilt from the compiled-in text: the same rules, an empty cache.
    ///
    /// Concurrent reloads run one after the other, so the last one to start wins. A reload
    /// dropped before it finishes (a request cut off by its deadline) changes nothing.
    ///
    /// # Errors
    /// As [`Authorizer::load`]; on error the current policy stays in force.
    pub async fn reload(&self) -> Result<PolicySummary, RbacError> {
        let _one_at_a_time = self.reloading.lock().await;
        let snapshot = match build(&self.source).await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::warn!(%error, "rbac: reload failed; keeping the current policy");
                return Err(error);
            }
        };
        let summary = snapshot.summary;
        let old = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(PoisonError::into_inner),
            Arc::new(snapshot),
        );
        // Drop the old enforcer outside the lock.
        drop(old);
        tracing::info!(
            policies = summary.policies,
            groupings = summary.groupings,
            "rbac: policy reloaded"
        );
        Ok(summary)
    }

    /// May a caller holding `roles` call `method route_template` on a resource with this
    /// `ownership`? Allowed if any role allows it.
    ///
    /// `method` is the upper-case HTTP method; `route_template` is the router's matched path
    /// (`/v1/orders/{id}`), not the concrete one. An unknown method or role denies.
    pub fn check<R: AsRef<str>>(
        &self,
        roles: &[R],
        method: &str,
        route_template: &str,
        ownership: Ownership,
    ) -> Decision {
        let Some(method) = METHODS.iter().copied().find(|m| *m == method) else {
            return Decision::Deny;
        };
        let snapshot = self.current.read().unwrap_or_else(PoisonError::into_inner);
        let allowed = roles
            .iter()
            .any(|role| snapshot.allows(role.as_ref(), method, route_template, ownership));
        if allowed {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }

    /// `true` for the compiled-in policy, `false` for one loaded from files.
    #[must_use]
    pub fn is_embedded(&self) -> bool {
        matches!(self.source, Source::Embedded)
    }

    /// Rule counts of the policy in force.
    #[must_use]
    pub fn summary(&self) -> PolicySummary {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .summary
    }

    /// Number of cached decisions of the policy in force (for metrics and tests).
    #[must_use]
    pub fn cached_decisions(&self) -> usize {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .cache
            .len()
    }
}

/// Reads, validates and compiles a policy generation.
async fn build(source: &Source) -> Result<Snapshot, RbacError> {
    let (model_origin, model_text, policy_origin, policy_text) = match source {
        Source::Embedded => (
            "<embedded>".to_owned(),
            DEFAULT_MODEL.to_owned(),
            "<embedded>".to_owned(),
            DEFAULT_POLICY.to_owned(),
        ),
        Source::Files { model, policy } => {
            let paths = (model.clone(), policy.clone());
            // Small files, read off the async workers (tokio's `fs` feature is not enabled).
            let (model_text, policy_text) = tokio::task::spawn_blocking(move || {
                Ok::<_, RbacError>((read_file(&paths.0)?, read_file(&paths.1)?))
            })
            .await
            // A join error means the runtime is shutting down (the closure does not panic).
            .map_err(|join| RbacError::Read {
                path: policy.clone(),
                source: std::io::Error::other(join),
            })??;
            (
                model.display().to_string(),
                model_text,
                policy.display().to_string(),
                policy_text,
            )
        }
    };
    let parsed = policy_file::parse(&policy_origin, &policy_text)?;
    let model_error = |source: casbin::Error| RbacError::Model {
        origin: model_origin.clone(),
        source: Box::new(source),
    };
    let model = DefaultModel::from_str(&model_text)
        .await
        .map_err(model_error)?;
    let enforcer = Enforcer::new(model, StringAdapter::new(&parsed.normalised))
        .await
        .map_err(model_error)?;
    // A model whose request or matcher does not fit `check`'s four values fails here, at
    // load time, rather than denying every request later.
    enforcer
        .enforce(("", "/", "GET", Ownership::NotApplicable.as_str()))
        .map_err(model_error)?;
    Ok(Snapshot {
        enforcer,
        roles: parsed.roles,
        cache: DecisionCache::default(),
        summary: PolicySummary {
            policies: parsed.policies,
            groupings: parsed.groupings,
        },
    })
}

fn read_file(path: &Path) -> Result<String, RbacError> {
    std::fs::read_to_string(path).map_err(|source| RbacError::Read {
        path: path.to_path_buf(),
        source,
    })
}

// The axum state holds the authorizer across tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Authorizer>();
};
