//! Local-filesystem backends: the embedded default for durable state.
//!
//! [`FsDocumentStore`] keeps session documents in a directory (the demo's
//! `--data-dir`), with compare-and-swap that holds across processes sharing it.

mod doc_store;

pub use doc_store::FsDocumentStore;
