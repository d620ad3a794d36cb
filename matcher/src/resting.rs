//! Resting orders apart from their price levels: the pool, and the indexes from order
//! id, client order id and account into it.

use crate::accounts::Accounts;
use crate::client_ids::{ClientIdState, ClientIds, ClientKey};
use crate::command::OrderRef;
use crate::pool::{Order, OrderPool};
use crate::types::AccountId;

/// Everything about resting orders that is not a price level: the pool, and the indexes
/// from order id, client order id and account into it.
#[derive(Debug)]
pub(crate) struct Orders {
    pub(crate) pool: OrderPool,
    pub(crate) ids: crate::order_ids::OrderIds,
    pub(crate) client_ids: ClientIds,
    pub(crate) accounts: Accounts,
}

impl Orders {
    /// Puts `order` in the pool and every index (not on a level: the caller does that).
    #[inline]
    pub(crate) fn insert(&mut self, order: Order) -> Option<u32> {
        let slot = self.pool.alloc(order)?;
        self.ids.insert(&self.pool, order.id, slot);
        self.accounts.push(&mut self.pool, slot);
        let key = ClientKey {
            account: order.account,
            client_order_id: order.client_order_id,
        };
        self.client_ids.set_live(&self.pool, &key, key.hash(), slot);
        Some(slot)
    }

    /// Removes a finished order (already off its level) from every index and frees its
    /// slot; its client order id joins the recent window.
    #[inline]
    pub(crate) fn forget(&mut self, slot: u32) {
        let (id, key) = {
            let o = self.pool.get(slot);
            (
                o.id,
                ClientKey {
                    account: o.account,
                    client_order_id: o.client_order_id,
                },
            )
        };
        self.accounts.remove(&mut self.pool, slot);
        self.ids.remove(&self.pool, id);
        self.client_ids.retire(&self.pool, key, id, Some(slot));
        self.pool.release(slot);
    }

    /// The slot of `account`'s live order named by `order`.
    #[inline]
    pub(crate) fn resolve(&self, account: AccountId, order: OrderRef) -> Option<u32> {
        let slot = match order {
            OrderRef::Id(id) => self.ids.get(&self.pool, id)?,
            OrderRef::Client(client_order_id) => {
                let key = ClientKey {
                    account,
                    client_order_id,
                };
                match self.client_ids.get(&self.pool, &key, key.hash())? {
                    ClientIdState::Live(slot) => slot,
                    ClientIdState::Recent(_) => return None,
                }
            }
        };
        (self.pool.get(slot).account == account).then_some(slot)
    }
}
