//! Counts of open things (connections, event streams) in total and per
//! client, checked against a cap on each: the one mechanism behind the
//! connection caps of the server and the event-stream caps.

use std::collections::HashMap;

use crate::ClientAddr;

/// Which cap a new one would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// The cap on the total.
    Total,
    /// The cap per client.
    PerClient {
        /// The cap.
        limit: usize,
    },
}

impl Over {
    /// The `cap` label of the refusal metrics.
    pub fn label(self) -> &'static str {
        match self {
            Over::Total => "total",
            Over::PerClient { .. } => "per_client",
        }
    }
}

/// The open count in total and per client. Not synchronised: the owner keeps
/// it under its own lock, with whatever else it counts beside.
#[derive(Debug, Default)]
pub struct ClientCounts {
    total: usize,
    // Only clients with something open: the map never outgrows what is open.
    per_client: HashMap<ClientAddr, usize>,
}

impl ClientCounts {
    /// Counts one more for `client`, unless that breaks `max_total` or
    /// `max_per_client` (`None`: no cap). A client that is not known counts
    /// only against the total.
    pub fn add(
        &mut self,
        client: Option<ClientAddr>,
        max_total: Option<usize>,
        max_per_client: Option<usize>,
    ) -> Result<(), Over> {
        if max_total.is_some_and(|max| self.total >= max) {
            return Err(Over::Total);
        }
        if let Some(client) = client {
            let from_client = self.per_client.get(&client).copied().unwrap_or(0);
            if let Some(limit) = max_per_client.filter(|max| from_client >= *max) {
                return Err(Over::PerClient { limit });
            }
            self.per_client.insert(client, from_client + 1);
        }
        self.total += 1;
        Ok(())
    }

    /// Counts one fewer for `client` (one that [`add`](Self::add) admitted).
    pub fn remove(&mut self, client: Option<ClientAddr>) {
        self.total = self.total.saturating_sub(1);
        if let Some(client) = client {
            if let Some(n) = self.per_client.get_mut(&client) {
                *n -= 1;
                if *n == 0 {
                    self.per_client.remove(&client);
                }
            }
        }
    }

    /// Open in total.
    pub fn total(&self) -> usize {
        self.total
    }
}
