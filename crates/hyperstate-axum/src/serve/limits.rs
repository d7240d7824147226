//! Connection caps: in total and per client address. A connection over a cap
//! is accepted and closed at once, so the backlog never fills and the accept
//! loop never stalls on one client's connections.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use hyperstate_http::ClientAddr;
use hyperstate_http::client_counts::{ClientCounts, Over};

/// Which cap refused a connection.
pub(crate) type Refused = Over;

/// The open connections, counted against both caps.
#[derive(Debug)]
pub(crate) struct ConnectionLimits {
    max_total: usize,
    max_per_client: Option<usize>,
    // Taken once per accept and once per close, never across an await, so
    // it is never held long.
    open: Mutex<ClientCounts>,
}

impl ConnectionLimits {
    pub(crate) fn new(max_total: usize, max_per_client: Option<usize>) -> Arc<Self> {
        Arc::new(ConnectionLimits {
            max_total,
            max_per_client,
            open: Mutex::new(ClientCounts::default()),
        })
    }

    /// Counts a new connection from `peer`, or says which cap it breaks.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<ConnectionPermit, Refused> {
        let client = ClientAddr::new(peer);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.add(Some(client), Some(self.max_total), self.max_per_client)?;
        metrics::gauge!("hyperstate_connections").set(open.total() as f64);
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
            .total()
    }
}

/// One admitted connection; dropping it gives its slots back.
#[derive(Debug)]
pub(crate) struct ConnectionPermit {
    limits: Arc<ConnectionLimits>,
    client: ClientAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut open = self
            .limits
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.remove(Some(self.client));
        metrics::gauge!("hyperstate_connections").set(open.total() as f64);
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
        assert_eq!(
            limits.admit(ip(1)).unwrap_err(),
            Refused::PerClient { limit: 2 }
        );
        let _b1 = limits.admit(ip(2)).unwrap();
        assert_eq!(limits.admit(ip(3)).unwrap_err(), Refused::Total);
        drop(a1);
        assert_eq!(limits.open(), 2);
        let _a3 = limits.admit(ip(1)).unwrap();
    }
}
