//! The vocabulary every layer speaks: statuses, the closed sets of names
//! (providers, action types, triggers, …), the records the store keeps and
//! the events announce, the names of settings, and the requests a running
//! engine takes. Data only: nothing here reads a file, the clock or the
//! database, and nothing here imports a module above it.
//!
//! Every closed set is an enum serialised with the spelling users, stored
//! rows and the wire already use; parsing a spelling it does not know is an
//! error naming the set and the spelling, never a silent default.

pub mod deployment;
pub mod environment;
pub mod error;
pub mod execution;
pub mod kinds;
pub mod request;
pub mod settings;
pub mod status;
pub mod vars;

pub use deployment::*;
pub use environment::*;
pub use error::ErrorCode;
pub use execution::*;
pub use kinds::*;
pub use request::*;
pub use status::*;
pub use vars::Namespaces;

/// The app's reverse-DNS identifier (also `identifier` in tauri.conf.json).
pub const BUNDLE_IDENTIFIER: &str = "dev.slipway.app";

/// A spelling no member of a closed set has (a stored row written by a
/// newer Slipway, or a hand-edited one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a known {set} (known: {known})")]
pub struct UnknownValue {
    pub set: &'static str,
    pub value: String,
    pub known: String,
}

/// Declares a closed set: an enum whose members serialise (serde, ts-rs,
/// the database) as the given spellings, with `ALL`, `as_str`, `parse`,
/// `FromStr`, `Display`, and comparison with its spelling (`kind == "role"`).
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize, ts_rs::TS)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling users, rows and the wire use.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The member spelled `text`, or an error naming the set.
            pub fn parse(text: &str) -> Result<$name, $crate::model::UnknownValue> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::model::UnknownValue {
                        set: $what,
                        value: other.to_string(),
                        known: [$($text),+].join(", "),
                    }),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::UnknownValue;
            fn from_str(text: &str) -> Result<$name, Self::Err> {
                $name::parse(text)
            }
        }

        impl std::fmt::Display for $name {
            /// The spelling, padded as the format asks (`{:<9}`).
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
pub(crate) use closed_set;
