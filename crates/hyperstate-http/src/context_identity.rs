//! The request context as the core's [`RequestIdentity`]: what a
//! [`RequestSession`](hyperstate::session::RequestSession) asks of the
//! request (reads never mint a browser id, the first write does; a fresh page
//! load of this site's own clears `Reconnect` values).

use hyperstate::session::RequestIdentity;
use hyperstate::{BrowserId, PageId};

use crate::RequestContext;

impl RequestIdentity for RequestContext {
    fn browser_id(&self) -> Option<BrowserId> {
        RequestContext::browser_id(self)
    }

    fn browser_id_or_mint(&self) -> hyperstate::Result<BrowserId> {
        RequestContext::browser_id_or_mint(self)
    }

    fn page_id(&self) -> Option<PageId> {
        RequestContext::page_id(self)
    }

    fn is_fresh_page_load(&self) -> bool {
        RequestContext::is_fresh_page_load(self)
    }

    fn is_from_another_site(&self) -> bool {
        RequestContext::is_from_another_site(self)
    }
}
