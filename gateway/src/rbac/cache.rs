//! The decision cache: one entry per (role, method, route template, ownership).
//!
//! casbin's `CachedEnforcer` would also do, but it hashes the whole request tuple into a
//! mini-moka cache that must be sized by hand (200 entries by default) and it would be asked
//! once per role anyway. This map is keyed per *role*, so a caller with several roles reuses
//! the entries of each, and a hit is found from borrowed `&str`s without allocating.
//!
//! The key space is bounded: only roles named in the policy are cached (see
//! `ParsedPolicy::roles`), methods come from a fixed list, and route templates come from the
//! router. [`CAPACITY`] is a backstop; past it, decisions are computed but not stored.

use std::hash::Hash;
use std::sync::{PoisonError, RwLock};

use hashbrown::{Equivalent, HashMap};
use rustc_hash::FxBuildHasher;

use super::Ownership;

/// Most entries the cache keeps. 4 roles × ~20 routes × 7 methods × 3 ownerships is < 2,000;
/// a synthetic 1,000-rule policy with 1,000 routes stays well under this too.
pub(super) const CAPACITY: usize = 65_536;

/// An owned cache key. Must hash exactly like [`KeyRef`] (same field types, same order).
#[derive(Debug, Hash, PartialEq, Eq)]
struct Key {
    role: Box<str>,
    method: &'static str,
    route: Box<str>,
    ownership: Ownership,
}

/// A borrowed key, used for lookups so that a hit allocates nothing.
#[derive(Debug, Hash, PartialEq, Eq, Clone, Copy)]
pub(super) struct KeyRef<'a> {
    pub(super) role: &'a str,
    pub(super) method: &'static str,
    pub(super) route: &'a str,
    pub(super) ownership: Ownership,
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.ownership == key.ownership
            && self.method == key.method
            && self.role == &*key.role
            && self.route == &*key.route
    }
}

/// Decisions of one policy generation; a reload builds a new, empty one.
#[derive(Debug, Default)]
pub(super) struct DecisionCache {
    map: RwLock<HashMap<Key, bool, FxBuildHasher>>,
}

impl DecisionCache {
    /// The cached decision for `key`, if any.
    pub(super) fn get(&self, key: KeyRef<'_>) -> Option<bool> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters (an insert either happened or did not), so poisoning is ignored.
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&key).copied()
    }

    /// Stores a decision unless the cache is full.
    pub(super) fn insert(&self, key: KeyRef<'_>, allowed: bool) {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CAPACITY {
            return;
        }
        map.insert(
            Key {
                role: key.role.into(),
                method: key.method,
                route: key.route.into(),
                ownership: key.ownership,
            },
            allowed,
        );
    }

    /// Number of cached decisions.
    pub(super) fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn borrowed_and_owned_keys_hash_alike() {
        let r = KeyRef {
            role: "trader",
            method: "GET",
            route: "/v1/orders/{id}",
            ownership: Ownership::Own,
        };
        let k = Key {
            role: "trader".into(),
            method: "GET",
            route: "/v1/orders/{id}".into(),
            ownership: Ownership::Own,
        };
        assert_eq!(FxBuildHasher.hash_one(r), FxBuildHasher.hash_one(&k));
        assert!(r.equivalent(&k));
        let cache = DecisionCache::default();
        cache.insert(r, true);
        assert_eq!(cache.get(r), Some(true));
        assert_eq!(
            cache.get(KeyRef {
                ownership: Ownership::Other,
                ..r
            }),
            None
        );
        assert_eq!(cache.len(), 1);
    }
}
