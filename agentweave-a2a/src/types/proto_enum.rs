//! ProtoJSON enums: written as their proto names, read from names or numbers.

/// Declares a proto enum with its wire names and numbers. Unknown names are refused; the
/// ProtoJSON mapping also lets parsers accept the numeric value, so both are read.
macro_rules! proto_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = ($wire:literal, $num:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in proto order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The proto name written on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }

            /// The proto number.
            pub fn number(self) -> i32 {
                match self { $($name::$variant => $num,)+ }
            }

            /// Looks a value up by its proto name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($wire => Some($name::$variant),)+ _ => None }
            }

            /// Looks a value up by its proto number.
            pub fn from_number(n: i64) -> Option<Self> {
                match n { $($num => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                match serde_json::Value::deserialize(d)? {
                    serde_json::Value::String(s) => Self::from_name(&s).ok_or_else(|| {
                        D::Error::custom(format!(
                            "unknown {} value `{}`", stringify!($name), s
                        ))
                    }),
                    serde_json::Value::Number(n) => n
                        .as_i64()
                        .and_then(Self::from_number)
                        .ok_or_else(|| D::Error::custom(format!(
                            "unknown {} number {}", stringify!($name), n
                        ))),
                    other => Err(D::Error::custom(format!(
                        "{} must be a string, got {}", stringify!($name), other
                    ))),
                }
            }
        }
    };
}

pub(crate) use proto_enum;
