//! Free-form maps (driver `config`, scaling `policy`, proxy `config`): any
//! attribute or nested block, decoded the way Nomad's jobspec2 does it.
//!
//! Nested blocks become lists of objects grouped by block type (a labelled
//! block nests as `{label: [object]}`), and an attribute written as an object
//! constructor is wrapped in a one-element list, so Docker's `labels { }` and
//! `labels = { }` decode alike. Keys come out sorted, as Go prints maps.

use std::collections::BTreeMap;

use nomad_hcl::{Attribute, Block, Body, Value as HclValue};
use serde_json::Value;

use super::value::number;

fn sorted(map: BTreeMap<String, Value>) -> Value {
    Value::Object(map.into_iter().collect())
}

/// A value as JSON: integers stay integers, object keys sorted.
pub(crate) fn json(v: &HclValue) -> Value {
    match v {
        HclValue::Null => Value::Null,
        HclValue::Bool(b) => Value::Bool(*b),
        HclValue::Number(n) => number(n),
        HclValue::String(s) => Value::String(s.clone()),
        HclValue::Array(a) => Value::Array(a.iter().map(json).collect()),
        HclValue::Object(o) => sorted(o.iter().map(|(k, x)| (k.clone(), json(x))).collect()),
    }
}

/// An attribute of a free-form body (object constructors wrapped in a list).
pub(crate) fn attr_json(a: &Attribute) -> Value {
    let v = json(&a.value);
    if a.object_literal {
        Value::Array(vec![v])
    } else {
        v
    }
}

/// A free-form body: attributes plus nested blocks grouped by type.
pub(crate) fn body_json(b: &Body) -> Value {
    let mut map: BTreeMap<String, Value> = BTreeMap::new();
    for a in &b.attributes {
        map.insert(a.key.clone(), attr_json(a));
    }
    for blk in &b.blocks {
        let entry = map
            .entry(blk.ident.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        match entry {
            Value::Array(items) => items.push(block_json(blk)),
            // An attribute and blocks of the same name: the blocks win, as in Nomad.
            other => *other = Value::Array(vec![block_json(blk)]),
        }
    }
    sorted(map)
}

fn block_json(b: &Block) -> Value {
    let mut v = body_json(&b.body);
    for label in b.labels.iter().rev() {
        let mut m = serde_json::Map::new();
        m.insert(label.clone(), Value::Array(vec![v]));
        v = Value::Object(m);
    }
    v
}
