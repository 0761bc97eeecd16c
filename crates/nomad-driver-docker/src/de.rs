//! Decoding helpers for HCL-shaped JSON.
//!
//! The jobspec parser hands a task's `config` (and the agent a plugin's
//! `config`) over as JSON in which every HCL block became a list of objects
//! (`logging { type = "json-file" }` → `"logging": [{"type": "json-file"}]`)
//! while attribute syntax (`labels = { a = "b" }`) stays an object. These
//! helpers accept both shapes, as Nomad's own decoder does.

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A string map given as an object, a list of objects (merged in order) or
/// null. Scalar values are turned into strings (`max-file = 3`).
pub(crate) fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let v = Value::deserialize(d)?;
    value_to_string_map(v).map_err(D::Error::custom)
}

pub(crate) fn value_to_string_map(v: Value) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut add = |obj: serde_json::Map<String, Value>| -> Result<(), String> {
        for (k, v) in obj {
            let s = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => String::new(),
                other => return Err(format!("{k}: expected a string, got {other}")),
            };
            out.insert(k, s);
        }
        Ok(())
    };
    match v {
        Value::Null => {}
        Value::Object(o) => add(o)?,
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(o) => add(o)?,
                    Value::Null => {}
                    other => return Err(format!("expected a map, got {other}")),
                }
            }
        }
        other => return Err(format!("expected a map, got {other}")),
    }
    Ok(out)
}

/// A map of label → number (`port_map`), as an object or a list of objects.
pub(crate) fn int_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, i64>, D::Error> {
    let strings = string_map(d)?;
    strings
        .into_iter()
        .map(|(k, v)| {
            v.parse::<i64>()
                .map(|n| (k.clone(), n))
                .map_err(|_| D::Error::custom(format!("{k}: expected a number, got {v:?}")))
        })
        .collect()
}

/// An optional block: an object, a list of at most one object, or null.
pub(crate) fn block<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let v = Value::deserialize(d)?;
    let obj = match v {
        Value::Null => return Ok(T::default()),
        Value::Array(mut items) => match items.len() {
            0 => return Ok(T::default()),
            1 => items.remove(0),
            n => return Err(D::Error::custom(format!("expected one block, got {n}"))),
        },
        other => other,
    };
    serde_json::from_value(obj).map_err(D::Error::custom)
}

/// Repeated blocks: a list of objects, a single object, or null.
pub(crate) fn blocks<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    let items = match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        other => {
            return Err(D::Error::custom(format!(
                "expected a block or a list of blocks, got {other}"
            )))
        }
    };
    items
        .into_iter()
        .map(|i| serde_json::from_value(i).map_err(D::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Default, Debug)]
    #[serde(default)]
    struct Inner {
        a: String,
    }

    #[derive(Deserialize, Debug)]
    struct Outer {
        #[serde(default, deserialize_with = "string_map")]
        m: BTreeMap<String, String>,
        #[serde(default, deserialize_with = "block")]
        b: Inner,
        #[serde(default, deserialize_with = "blocks")]
        bs: Vec<Inner>,
        #[serde(default, deserialize_with = "int_map")]
        p: BTreeMap<String, i64>,
    }

    #[test]
    fn accepts_hcl_block_and_attribute_shapes() {
        let o: Outer = serde_json::from_value(json!({
            "m": [{"x": "1"}, {"y": 2, "z": true}],
            "b": [{"a": "q"}],
            "bs": {"a": "one"},
            "p": [{"http": 8080}],
        }))
        .unwrap();
        assert_eq!(o.m["x"], "1");
        assert_eq!(o.m["y"], "2");
        assert_eq!(o.m["z"], "true");
        assert_eq!(o.b.a, "q");
        assert_eq!(o.bs.len(), 1);
        assert_eq!(o.p["http"], 8080);

        let o: Outer = serde_json::from_value(json!({"m": {"k": "v"}, "b": {"a": "x"}})).unwrap();
        assert_eq!(o.m["k"], "v");
        assert_eq!(o.b.a, "x");
        assert!(o.bs.is_empty());

        assert!(serde_json::from_value::<Outer>(json!({"b": [{"a": "1"}, {"a": "2"}]})).is_err());
        assert!(serde_json::from_value::<Outer>(json!({"m": "nope"})).is_err());
        assert!(serde_json::from_value::<Outer>(json!({"p": {"x": "abc"}})).is_err());
    }
}
