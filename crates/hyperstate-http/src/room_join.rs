//! Joining a room on behalf of a request, within the per-client join rate.
//!
//! A join costs a member slot, and a room holds a bounded number of them
//! ([`RoomOptions::max_members`](hyperstate::room::RoomOptions::max_members)).
//! Joins are cheap to send, so one client could otherwise take every slot
//! before others arrive; the limiter spreads slots across clients, and slots
//! nobody uses expire on their own
//! ([`RoomOptions::unused_member_ttl`](hyperstate::room::RoomOptions::unused_member_ttl)).

use hyperstate::room::{Principal, Room};

use crate::RequestContext;

impl RequestContext {
    /// Makes `who` a member of `room`, as [`Room::join`] does, after taking one
    /// join from this request's client allowance
    /// ([`HttpConfig::room_join_rate`](crate::HttpConfig::room_join_rate)).
    ///
    /// Past the allowance it fails with
    /// [`hyperstate::Error::RateLimited`], which answers 429 with
    /// `Retry-After`, and joins nothing. Without a limiter, or for a request
    /// whose client address is unknown, it only joins.
    ///
    /// ```no_run
    /// use hyperstate::room::{Principal, Rooms};
    /// use hyperstate_http::RequestContext;
    ///
    /// // A handler's body, with the context and caller its extractors gave.
    /// async fn join(
    ///     context: &RequestContext,
    ///     who: &Principal,
    ///     rooms: &Rooms,
    ///     name: &str,
    /// ) -> hyperstate::Result<&'static str> {
    ///     let room = rooms.room(name)?;
    ///     context.join_room(&room, who).await?;
    ///     Ok("joined")
    /// }
    /// # let _ = join;
    /// ```
    pub async fn join_room(&self, room: &Room, who: &Principal) -> hyperstate::Result<bool> {
        if let Some(limiter) = self.hyperstate().room_join_limiter() {
            limiter.check(self.client())?;
        }
        room.join(who).await
    }
}
