//! Request bodies, each declared once: a struct that the handler fills from the JSON object
//! field by field, by the wire names of [`roster_domain::Field`]s, and whose OpenAPI schema
//! is derived from the same declaration, so the document cannot drift from what is read.

/// Declares a body struct and its `read` from a [`crate::input::JsonObject`].
///
/// Each field is `name: Type = kind(Variant)`: `kind` is the `JsonObject` reader (`string`,
/// `boolean`, `unsigned`, or `has` for a field only checked for presence) and `Variant` the
/// [`roster_domain::Field`] it is read by. The field's name is the schema's property name,
/// so the build fails unless it is the wire name of that `Field`.
macro_rules! json_body {
    (
        $(#[$meta:meta])*
        pub(crate) struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident: $ty:ty = $kind:ident($variant:ident),
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, utoipa::ToSchema)]
        pub(crate) struct $name {
            $(
                $(#[$field_meta])*
                pub(crate) $field: $ty,
            )*
        }

        impl $name {
            /// Reads every field by its wire name; a field of the wrong JSON type is 400 / 1007.
            #[allow(clippy::needless_question_mark, reason = "a body may have no fallible field")]
            pub(crate) fn read(
                object: &$crate::input::JsonObject,
            ) -> Result<Self, $crate::error::ApiError> {
                Ok(Self {
                    $($field: json_body!(@read object, $kind, $variant),)*
                })
            }
        }

        $(
            const _: () = assert!(
                $crate::body::same_name(
                    roster_domain::Field::$variant.wire_name(),
                    stringify!($field),
                ),
                concat!(
                    "body field `", stringify!($field),
                    "` is not the wire name of Field::", stringify!($variant)
                ),
            );
        )*
    };
    (@read $object:ident, has, $variant:ident) => {
        $object.has(roster_domain::Field::$variant)
    };
    (@read $object:ident, $kind:ident, $variant:ident) => {
        $object.$kind(roster_domain::Field::$variant)?
    };
}

pub(crate) use json_body;

/// Byte-wise string equality that can run at compile time.
pub(crate) const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_by_every_byte() {
        assert!(same_name("first_name", "first_name"));
        assert!(!same_name("first_name", "first_namf"));
        assert!(!same_name("first_name", "first"));
        assert!(same_name("", ""));
    }
}
