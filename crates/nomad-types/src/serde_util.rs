//! Serde helpers that reproduce Go's JSON conventions.
//!
//! Go writes a nil slice or map as `null`. This crate stores lists as
//! `Vec<T>` and maps as `BTreeMap<K, V>`; an empty one is written as `null`
//! and a `null` (or missing) one reads back as empty. Use
//! `#[serde(with = "crate::serde_util::nullable")]` on such fields.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Containers that can tell whether they are empty.
pub trait IsEmpty {
    /// True when the container holds nothing.
    fn is_empty_container(&self) -> bool;
    /// Gives back the spare room a decoder left (called once a value has
    /// been read). Decoded values live long in the state store, and a JSON
    /// array has no length up front: a decoded `Vec` of one task group holds
    /// room for four (4 KiB where 1 KiB is used).
    fn fit(&mut self) {}
}

impl<T> IsEmpty for Vec<T> {
    fn is_empty_container(&self) -> bool {
        self.is_empty()
    }
    fn fit(&mut self) {
        if self.capacity() > self.len() {
            self.shrink_to_fit();
        }
    }
}

impl<K, V> IsEmpty for BTreeMap<K, V> {
    fn is_empty_container(&self) -> bool {
        self.is_empty()
    }
}

/// Empty container ↔ `null`.
pub mod nullable {
    use super::*;

    /// Writes `null` for an empty container, the container otherwise.
    pub fn serialize<T, S>(value: &T, s: S) -> Result<S::Ok, S::Error>
    where
        T: Serialize + IsEmpty,
        S: Serializer,
    {
        if value.is_empty_container() {
            s.serialize_none()
        } else {
            value.serialize(s)
        }
    }

    /// Reads `null` as an empty container (with no spare room: see
    /// [`IsEmpty::fit`]).
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: Deserialize<'de> + Default + IsEmpty,
        D: Deserializer<'de>,
    {
        let mut value = Option::<T>::deserialize(d)?.unwrap_or_default();
        value.fit();
        Ok(value)
    }
}

/// Free-form JSON maps (task `Config`, scaling `Policy`, …): `null` when
/// empty, keys sorted at every depth as Go's encoder does.
pub mod free_form {
    use super::*;
    use serde_json::Value;

    /// Writes the map with keys sorted recursively, or `null` when empty.
    pub fn serialize<S: Serializer>(
        value: &BTreeMap<String, Value>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        if value.is_empty() {
            return s.serialize_none();
        }
        let mut map = s.serialize_map(Some(value.len()))?;
        for (k, v) in value {
            map.serialize_entry(k, &Sorted(v))?;
        }
        map.end()
    }

    /// Reads `null` as an empty map.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Value>, D::Error> {
        Ok(Option::<BTreeMap<String, Value>>::deserialize(d)?.unwrap_or_default())
    }
}

/// Opaque JSON values written with object keys sorted recursively.
pub mod sorted_value {
    use super::*;
    use serde_json::Value;

    /// Serialises an optional opaque value with sorted keys.
    pub fn serialize<S: Serializer>(value: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            None => s.serialize_none(),
            Some(v) => Sorted(v).serialize(s),
        }
    }

    /// Reads any value; `null` becomes `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Null => None,
            v => Some(v),
        })
    }
}

/// Serialises a `serde_json::Value` with object keys sorted at every depth.
pub struct Sorted<'a>(pub &'a serde_json::Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde_json::Value;
        match self.0 {
            Value::Object(obj) => {
                let mut keys: Vec<&String> = obj.keys().collect();
                keys.sort();
                let mut map = s.serialize_map(Some(keys.len()))?;
                for k in keys {
                    if let Some(v) = obj.get(k) {
                        map.serialize_entry(k, &Sorted(v))?;
                    }
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Sorted(item))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

/// `skip_serializing_if` helper for Go's `omitempty` on strings.
pub fn is_empty_str(s: &str) -> bool {
    s.is_empty()
}

/// `skip_serializing_if` helper for Go's `omitempty` on bools.
pub fn is_false(b: &bool) -> bool {
    !*b
}

/// `skip_serializing_if` helper for Go's `omitempty` on integers.
pub fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// `skip_serializing_if` helper for Go's `omitempty` on integers.
pub fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}
