//! Each account's resting orders as an intrusive list in creation order, for cancel-all
//! and open-order queries without scanning the books.

use rustc_hash::FxBuildHasher;

use crate::pool::{NIL, OrderPool};
use crate::types::AccountId;

type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuildHasher>;

/// Head and tail of one account's list.
#[derive(Clone, Copy, Debug)]
struct AccountList {
    head: u32,
    tail: u32,
}

/// Accounts with at least one resting order.
#[derive(Debug)]
pub(crate) struct Accounts {
    map: FxHashMap<AccountId, AccountList>,
}

impl Accounts {
    /// Room for `orders` resting orders (so at most that many accounts), at twice the peak
    /// so that tombstone clean-ups never allocate.
    pub(crate) fn new(orders: usize) -> Self {
        Self {
            map: FxHashMap::with_capacity_and_hasher(2 * orders + 16, FxBuildHasher),
        }
    }

    /// Appends `slot` to its account's list.
    #[inline]
    pub(crate) fn push(&mut self, pool: &mut OrderPool, slot: u32) {
        let account = pool.get(slot).account;
        match self.map.get_mut(&account) {
            Some(list) => {
                let tail = list.tail;
                list.tail = slot;
                pool.get_mut(tail).acct_next = slot;
                let o = pool.get_mut(slot);
                o.acct_prev = tail;
                o.acct_next = NIL;
            }
            None => {
                self.map.insert(
                    account,
                    AccountList {
                        head: slot,
                        tail: slot,
                    },
                );
                let o = pool.get_mut(slot);
                o.acct_prev = NIL;
                o.acct_next = NIL;
            }
        }
    }

    /// Unlinks `slot` from its account's list; forgets the account when it has no orders.
    #[inline]
    pub(crate) fn remove(&mut self, pool: &mut OrderPool, slot: u32) {
        let (account, prev, next) = {
            let o = pool.get(slot);
            (o.account, o.acct_prev, o.acct_next)
        };
        if prev != NIL {
            pool.get_mut(prev).acct_next = next;
        }
        if next != NIL {
            pool.get_mut(next).acct_prev = prev;
        }
        if prev == NIL && next == NIL {
            self.map.remove(&account);
            return;
        }
        if let Some(list) = self.map.get_mut(&account) {
            if prev == NIL {
                list.head = next;
            }
            if next == NIL {
                list.tail = prev;
            }
        }
    }

    /// The oldest resting order of `account`.
    #[inline]
    pub(crate) fn head(&self, account: AccountId) -> Option<u32> {
        self.map.get(&account).map(|l| l.head)
    }
}
