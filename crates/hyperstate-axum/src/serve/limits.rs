//! Connection caps: in total and per client address. A connection over a cap
//! is accepted and closed at once, so the backlog never fills and the accept
//! loop never stalls on one client's connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::ClientAddr;

/// Which cap refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Total,
    PerClient,
}

impl Refused {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refused::Total => "total",
            Refused::PerClient => "per_client",
        }
    }
}

/// The open connections, counted against both caps.
#[derive(Debug)]
pub(crate) struct ConnectionLimits {
    max_total: usize,
    max_per_client: Option<usize>,
    // One lock for both counts: taken once per accept and once per close,
    // never across an await, so it is never held long.
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

impl ConnectionLimits {
    pub(crate) fn new(max_total: usize, max_per_client: Option<usize>) -> Arc<Self> {
        Arc::new(ConnectionLimits {
            max_total,
            max_per_client,
            open: Mutex::new(Open::default()),
        })
    }

    /// Counts a new connection from `peer`, or says which cap it breaks.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<ConnectionPermit, Refused> {
        let client = ClientAddr::new(peer).ip();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.max_total {
            return Err(Refused::Total);
        }
        let from_client = open.per_client.get(&client).copied().unwrap_or(0);
        if self.max_per_client.is_some_and(|max| from_client >= max) {
            return Err(Refused::PerClient);
        }
        open.total += 1;
        open.per_client.insert(client, from_client + 1);
        metrics::gauge!("hyperstate_connections").set(open.total as f64);
        Ok(ConnectionPermit {
            limits: self.clone(),
            client,
        })
    }

    /// Open connections in total.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

/// One admitted connection; dropping it gives its slots back.
#[derive(Debug)]
pub(crate) struct ConnectionPermit {
    limits: Arc<ConnectionLimits>,
    client: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut open = self
            .limits
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        // Forget clients with no connection left, so the map holds only
        // clients that are connected now.
        if let Some(n) = open.per_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                open.per_client.remove(&self.client);
            }
        }
        metrics::gauge!("hyperstate_connections").set(open.total as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        [127, 0, 0, last].into()
    }

    #[test]
    fn both_caps_hold_and_slots_come_back() {
        let limits = ConnectionLimits::new(3, Some(2));
        let a1 = limits.admit(ip(1)).unwrap();
        let _a2 = limits.admit(ip(1)).unwrap();
        assert_eq!(limits.admit(ip(1)).unwrap_err(), Refused::PerClient);
        let _b1 = limits.admit(ip(2)).unwrap();
        assert_eq!(limits.admit(ip(3)).unwrap_err(), Refused::Total);
        drop(a1);
        assert_eq!(limits.open(), 2);
        let _a3 = limits.admit(ip(1)).unwrap();
    }
}
