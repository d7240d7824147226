//! Typed keys: a key declared once with its value type and its default.
//!
//! A [`Key<T>`] names one value of a scope's state and fixes its type, so
//! reading, writing and updating it at every call site agree at compile time:
//! `put(&THEME, &42)` on a `Key<Theme>` does not compile. Its default is what a
//! read returns while nothing is stored, so every read has one shape,
//! `Result<T>`, on every scope.
//!
//! Keys are plain data built by `const fn`s: declare them as `const` (or
//! `static`) items next to the handler that uses them, without `LazyLock`.
//!
//! ```
//! use hyperstate::Key;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
//! enum Theme {
//!     #[default]
//!     Light,
//!     Dark,
//! }
//!
//! /// A default of the type's `Default`.
//! const THEME: Key<Theme> = Key::or_default("theme");
//! /// Any default, computed when a read finds nothing (here a `String`, which
//! /// has no `const` constructor with content).
//! const GREETING: Key<String> = Key::new("greeting", || "hello".to_owned());
//!
//! /// A whole struct as one value: the wizard's state reads and updates as one.
//! #[derive(Debug, Default, Clone, Serialize, Deserialize)]
//! struct Wizard {
//!     step: u8,
//!     name: String,
//! }
//! const WIZARD: Key<Wizard> = Key::or_default("wizard");
//!
//! assert_eq!(THEME.name(), "theme");
//! assert_eq!(GREETING.default_value(), "hello");
//! assert_eq!(WIZARD.default_value().step, 0);
//! ```

use std::fmt;

/// A key of scope state whose value is a `T`, with the value a read returns
/// while nothing is stored.
///
/// Use it with [`Page`](crate::page::Page), [`SessionView`](crate::session::SessionView),
/// [`ViewState`](crate::session::ViewState), [`Room`](crate::room::Room) and
/// [`Snapshot`](crate::room::Snapshot). The name is checked against the scope's
/// [`Limits`](crate::Limits) at each use, like a string key.
pub struct Key<T> {
    name: &'static str,
    default: fn() -> T,
}

impl<T> Key<T> {
    /// A key named `name` whose reads return `default()` while nothing is
    /// stored. A closure that captures nothing is a `fn() -> T`, so this works in
    /// a `const` item for any `T`.
    pub const fn new(name: &'static str, default: fn() -> T) -> Self {
        Key { name, default }
    }

    /// The key's name: what the value is stored under.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// A fresh copy of the key's default value.
    pub fn default_value(&self) -> T {
        (self.default)()
    }
}

impl<T: Default> Key<T> {
    /// A key named `name` whose default is `T::default()`.
    pub const fn or_default(name: &'static str) -> Self {
        Key {
            name,
            default: T::default,
        }
    }
}

// By hand: derives would demand `T: Clone`/`T: Debug`, but a key holds no `T`.
impl<T> Clone for Key<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Key<T> {}

impl<T> fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

/// Anything that names a key of scope state: a [`Key`] or a string.
///
/// `put` and `delete` take either, so string keys keep working beside typed
/// ones; reads and updates of a string key name their default explicitly
/// (`get_or`, `update_or`).
pub trait KeyName {
    /// The name the value is stored under.
    fn key_name(&self) -> &str;
}

impl KeyName for str {
    fn key_name(&self) -> &str {
        self
    }
}

impl KeyName for String {
    fn key_name(&self) -> &str {
        self
    }
}

impl<T> KeyName for Key<T> {
    fn key_name(&self) -> &str {
        self.name
    }
}

/// A key that may hold a `T`: a [`Key<T>`] (of exactly that type) or a string
/// (of any type). This is what makes a wrong type a compile error for typed
/// keys.
#[diagnostic::on_unimplemented(
    message = "the key `{Self}` does not hold values of type `{T}`",
    label = "this key's declared type differs from the value's",
    note = "a `Key<T>` reads and writes exactly `T`"
)]
pub trait KeyFor<T: ?Sized>: KeyName {}

impl<T: ?Sized> KeyFor<T> for str {}

impl<T: ?Sized> KeyFor<T> for String {}

impl<T> KeyFor<T> for Key<T> {}

/// A text key takes a `&str` too: `put(&NAME, "Ada")`, as it would a `&String`.
impl KeyFor<str> for Key<String> {}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNT: Key<u32> = Key::or_default("count");
    static LABEL: Key<String> = Key::new("label", || "none".to_owned());

    fn name_of<T: ?Sized, K: KeyFor<T> + ?Sized>(key: &K) -> &str {
        key.key_name()
    }

    #[test]
    fn keys_are_const_and_carry_their_default() {
        assert_eq!(COUNT.name(), "count");
        assert_eq!(COUNT.default_value(), 0);
        assert_eq!(LABEL.default_value(), "none");
        assert_eq!(name_of::<u32, _>(&COUNT), "count");
        assert_eq!(name_of::<str, _>("plain"), "plain");
        assert!(format!("{COUNT:?}").contains("u32"));
    }
}
