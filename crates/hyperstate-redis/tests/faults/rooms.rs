//! Room state through the fault proxy.
