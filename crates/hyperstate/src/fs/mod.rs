//! Local-filesystem backends: the embedded default for durable state.
//!
//! [`FsDocumentStore`] keeps session documents in a directory (the data
//! directory), with compare-and-swap that holds across processes sharing it.
//! [`session_secret`] gives the server secret: the configured one, or a
//! development secret generated once into the same directory.

mod doc_store;
mod secret;

pub use doc_store::FsDocumentStore;
pub use secret::{
    BROWSER_ID_SECRETS_ENV, DEV_SECRET_FILE, SESSION_SECRET_ENV, SecretError, browser_id_keys,
    session_secret,
};
