//! A reference: page state stored the way Nex.Store stores it, rebuilt in Rust so
//! it can be measured in the same run on the same machine.
//!
//! One table of `{(page, key) -> (value, expires_at)}`; every request's TTL touch
//! scans the whole table for the page's entries and rewrites each one (Nex's
//! `touch_page/1`: `:ets.match` then `:ets.insert` per key). This is the flaw the
//! review names; hyperstate refreshes a page's TTL in O(1) instead.

#![allow(dead_code)] // each bench binary uses part of it

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `(page, key) → (value, expires_at)`, as in Nex's ETS table.
type Table = HashMap<(u64, String), (Vec<u8>, Instant)>;

/// Nex-style page storage.
pub(crate) struct NexStyleStore {
    table: Mutex<Table>,
    ttl: Duration,
}

impl NexStyleStore {
    pub(crate) fn new() -> Self {
        NexStyleStore {
            table: Mutex::new(HashMap::new()),
            ttl: Duration::from_secs(3600),
        }
    }

    /// `touch_page`: full scan, rewrite every key of the page.
    pub(crate) fn touch(&self, page: u64) {
        let expires = Instant::now() + self.ttl;
        let mut table = self.table.lock().unwrap();
        let keys: Vec<(u64, String)> = table.keys().filter(|(p, _)| *p == page).cloned().collect();
        for key in keys {
            if let Some(entry) = table.get_mut(&key) {
                entry.1 = expires;
            }
        }
    }

    pub(crate) fn put(&self, page: u64, key: &str, value: Vec<u8>) {
        let expires = Instant::now() + self.ttl;
        self.table
            .lock()
            .unwrap()
            .insert((page, key.to_owned()), (value, expires));
    }

    pub(crate) fn get(&self, page: u64, key: &str) -> Option<Vec<u8>> {
        let table = self.table.lock().unwrap();
        // A tuple key of (u64, String) cannot be looked up by (u64, &str) without
        // allocating; Nex's ETS lookup has the same shape of cost.
        match table.get(&(page, key.to_owned())) {
            Some((value, expires)) if *expires > Instant::now() => Some(value.clone()),
            _ => None,
        }
    }
}
