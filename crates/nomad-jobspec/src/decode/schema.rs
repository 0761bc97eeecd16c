//! The schema-driven decoder: each block type is a [`Schema`] listing its
//! labels and fields (HCL name, API JSON name, shape), and one generic walk
//! turns an evaluated [`Block`] into the API's JSON object, reporting unknown
//! names, wrong shapes, repeated blocks and missing required arguments with
//! their positions.
//!
//! Field order in a schema is the Go struct's field order, so the JSON comes
//! out in the order `nomad job run -output` prints it.

use std::collections::BTreeMap;

use nomad_hcl::{did_you_mean, Attribute, Block, Body, Diagnostic, Span};
use serde_json::Value;

use super::value::{attr_value, block_map, Kind};

pub(crate) type Obj = serde_json::Map<String, Value>;

/// One attribute or block handed to a custom handler.
#[derive(Clone, Copy)]
pub(crate) enum Item<'a> {
    Attr(&'a Attribute),
    Block(&'a Block),
}

/// Decodes one item into the parent object (for fields with special rules).
pub(crate) type Handler = fn(&mut Ctx, &mut Obj, &Field, Item<'_>);

/// Runs after a block is decoded (defaults Nomad's parser fills in, ...).
pub(crate) type Post = fn(&mut Ctx, &mut Obj, &Block);

#[derive(Clone, Copy)]
pub(crate) enum Shape {
    /// `name = value`.
    Attr(Kind),
    /// At most one `name { }` block: a JSON object.
    One(&'static Schema),
    /// Any number of `name { }` blocks: a JSON array.
    Many(&'static Schema),
    /// Labelled blocks collected into a JSON object keyed by label.
    ByLabel(&'static Schema),
    /// Decoded by a handler.
    Custom(Handler),
    /// Not written in HCL; set by a post hook (listed for field order).
    Derived,
}

pub(crate) struct Field {
    pub(crate) hcl: &'static str,
    pub(crate) json: &'static str,
    pub(crate) shape: Shape,
    pub(crate) required: bool,
}

pub(crate) const fn attr(hcl: &'static str, json: &'static str, kind: Kind) -> Field {
    Field {
        hcl,
        json,
        shape: Shape::Attr(kind),
        required: false,
    }
}

pub(crate) const fn req(hcl: &'static str, json: &'static str, kind: Kind) -> Field {
    Field {
        hcl,
        json,
        shape: Shape::Attr(kind),
        required: true,
    }
}

pub(crate) const fn one(hcl: &'static str, json: &'static str, s: &'static Schema) -> Field {
    Field {
        hcl,
        json,
        shape: Shape::One(s),
        required: false,
    }
}

pub(crate) const fn many(hcl: &'static str, json: &'static str, s: &'static Schema) -> Field {
    Field {
        hcl,
        json,
        shape: Shape::Many(s),
        required: false,
    }
}

pub(crate) const fn by_label(hcl: &'static str, json: &'static str, s: &'static Schema) -> Field {
    Field {
        hcl,
        json,
        shape: Shape::ByLabel(s),
        required: false,
    }
}

pub(crate) const fn custom(hcl: &'static str, json: &'static str, h: Handler) -> Field {
    Field {
        hcl,
        json,
        shape: Shape::Custom(h),
        required: false,
    }
}

pub(crate) const fn derived(json: &'static str) -> Field {
    Field {
        hcl: "",
        json,
        shape: Shape::Derived,
        required: false,
    }
}

/// A block type.
pub(crate) struct Schema {
    /// The block's HCL name, for messages.
    pub(crate) block: &'static str,
    /// Labels: (JSON field, what the label names, for messages).
    pub(crate) labels: &'static [(&'static str, &'static str)],
    pub(crate) fields: &'static [Field],
    pub(crate) post: Option<Post>,
}

pub(crate) const fn schema(
    block: &'static str,
    labels: &'static [(&'static str, &'static str)],
    fields: &'static [Field],
) -> Schema {
    Schema {
        block,
        labels,
        fields,
        post: None,
    }
}

pub(crate) const fn schema_post(
    block: &'static str,
    labels: &'static [(&'static str, &'static str)],
    fields: &'static [Field],
    post: Post,
) -> Schema {
    Schema {
        block,
        labels,
        fields,
        post: Some(post),
    }
}

/// JSON pointer of each decoded field to where it was written.
pub type Spans = BTreeMap<String, Span>;

/// Decoding state: problems found, positions recorded, where we are.
#[derive(Default)]
pub(crate) struct Ctx {
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) spans: Spans,
    path: Vec<String>,
}

/// Escapes one JSON pointer segment.
fn escape(seg: &str) -> String {
    seg.replace('~', "~0").replace('/', "~1")
}

impl Ctx {
    pub(crate) fn error(&mut self, span: &Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(span.clone(), msg));
    }

    pub(crate) fn error_hint(&mut self, span: &Span, msg: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::new(span.clone(), msg);
        d.hint = hint;
        self.diags.push(d);
    }

    /// The JSON pointer of `segs` under the current path.
    pub(crate) fn pointer_to(&self, segs: &[&str]) -> String {
        let mut p = String::new();
        for s in self
            .path
            .iter()
            .map(String::as_str)
            .chain(segs.iter().copied())
        {
            p.push('/');
            p.push_str(&escape(s));
        }
        p
    }

    /// The JSON pointer of field `seg` under the current path.
    pub(crate) fn pointer(&self, seg: &str) -> String {
        self.pointer_to(&[seg])
    }

    /// Records where the field at `segs` (under the current path) was written.
    pub(crate) fn record(&mut self, segs: &[&str], span: &Span) {
        let p = self.pointer_to(segs);
        self.spans.insert(p, span.clone());
    }

    pub(crate) fn with_path<T>(&mut self, segs: &[&str], f: impl FnOnce(&mut Self) -> T) -> T {
        let mark = self.path.len();
        self.path.extend(segs.iter().map(|s| (*s).to_string()));
        let r = f(self);
        self.path.truncate(mark);
        r
    }

    /// Renames recorded positions: `from` (a pointer, with everything under
    /// it) becomes `to`.
    pub(crate) fn move_spans(&mut self, from: &str, to: &str) {
        let moved: Vec<(String, Span)> = self
            .spans
            .range(from.to_string()..)
            .take_while(|(k, _)| k.starts_with(from))
            .filter(|(k, _)| k.len() == from.len() || k.as_bytes().get(from.len()) == Some(&b'/'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, _) in &moved {
            self.spans.remove(k);
        }
        for (k, v) in moved {
            self.spans.insert(format!("{to}{}", &k[from.len()..]), v);
        }
    }
}

/// `group "web"`: how a block is named in messages.
pub(crate) fn describe(b: &Block) -> String {
    match b.labels.first() {
        Some(l) => format!("{} {l:?}", b.ident),
        None => b.ident.clone(),
    }
}

fn names(schema: &Schema, blocks: bool) -> Vec<&'static str> {
    schema
        .fields
        .iter()
        .filter(|f| !f.hcl.is_empty())
        .filter(|f| {
            let is_block = matches!(f.shape, Shape::One(_) | Shape::Many(_) | Shape::ByLabel(_));
            let both = matches!(f.shape, Shape::Custom(_))
                || matches!(f.shape, Shape::Attr(k) if k.block_form());
            both || is_block == blocks
        })
        .map(|f| f.hcl)
        .collect()
}

fn field<'s>(schema: &'s Schema, hcl: &str) -> Option<&'s Field> {
    schema
        .fields
        .iter()
        .find(|f| !f.hcl.is_empty() && f.hcl == hcl)
}

/// Checks the labels of a block and stores them in `obj`; false when the
/// block cannot be decoded.
pub(crate) fn labels(ctx: &mut Ctx, b: &Block, schema: &Schema, obj: &mut Obj) -> bool {
    let want = schema.labels.len();
    if b.labels.len() < want {
        let (_, what) = schema.labels[b.labels.len()];
        let example = schema
            .labels
            .iter()
            .map(|(_, w)| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(" ");
        ctx.error(
            &b.body.span,
            format!(
                "missing {what} label for the {0} block: write {0} {example} {{ ... }}",
                schema.block
            ),
        );
        return false;
    }
    if b.labels.len() > want {
        let msg = if want == 0 {
            format!(
                "a {} block takes no labels, but has {}",
                schema.block,
                b.labels.len()
            )
        } else {
            format!(
                "a {} block takes {want} label(s), but has {}",
                schema.block,
                b.labels.len()
            )
        };
        ctx.error(&b.span, msg);
        return false;
    }
    for ((json, _), value) in schema.labels.iter().zip(&b.labels) {
        obj.insert((*json).to_string(), Value::String(value.clone()));
        ctx.record(&[json], &b.span);
    }
    true
}

/// Decodes a block (labels, body, required fields, post hook) into an object
/// whose keys follow the schema's order.
pub(crate) fn decode_block(ctx: &mut Ctx, b: &Block, schema: &Schema) -> Option<Obj> {
    let mut obj = Obj::new();
    if !labels(ctx, b, schema, &mut obj) {
        return None;
    }
    decode_body(ctx, b, schema, &mut obj);
    if let Some(post) = schema.post {
        post(ctx, &mut obj, b);
    }
    Some(ordered(obj, schema))
}

/// Reorders keys: labels, then fields in schema order, then anything else.
pub(crate) fn ordered(mut obj: Obj, schema: &Schema) -> Obj {
    let mut out = Obj::new();
    let keys = schema
        .labels
        .iter()
        .map(|(j, _)| *j)
        .chain(schema.fields.iter().map(|f| f.json));
    for k in keys {
        if let Some(v) = obj.remove(k) {
            out.insert(k.to_string(), v);
        }
    }
    out.extend(obj);
    out
}

/// Decodes the attributes and blocks of `b` into `obj`.
pub(crate) fn decode_body(ctx: &mut Ctx, b: &Block, schema: &Schema, obj: &mut Obj) {
    let body: &Body = &b.body;
    for a in &body.attributes {
        let Some(f) = field(schema, &a.key) else {
            unknown(ctx, b, schema, &a.key, &a.key_span, false);
            continue;
        };
        match f.shape {
            Shape::Attr(kind) => {
                if let Some(v) = attr_value(ctx, kind, a) {
                    obj.insert(f.json.to_string(), v);
                    ctx.record(&[f.json], &a.key_span);
                }
            }
            Shape::Custom(h) => h(ctx, obj, f, Item::Attr(a)),
            Shape::One(_) | Shape::Many(_) | Shape::ByLabel(_) => ctx.error(
                &a.key_span,
                format!(
                    "{0} is a block, not an argument: write {0} {{ ... }} without \"=\"",
                    a.key
                ),
            ),
            Shape::Derived => {}
        }
    }
    for child in &body.blocks {
        let Some(f) = field(schema, &child.ident) else {
            unknown(ctx, b, schema, &child.ident, &child.span, true);
            continue;
        };
        decode_child(ctx, b, f, child, obj);
    }
    for f in schema.fields.iter().filter(|f| f.required) {
        if !obj.contains_key(f.json) {
            ctx.error(
                &b.span,
                format!("the {} block needs the argument \"{}\"", describe(b), f.hcl),
            );
        }
    }
}

fn decode_child(ctx: &mut Ctx, parent: &Block, f: &Field, child: &Block, obj: &mut Obj) {
    match f.shape {
        Shape::Attr(kind) if kind.block_form() => {
            if obj.contains_key(f.json) {
                ctx.error(
                    &child.span,
                    format!(
                        "{} is defined more than once in {}",
                        f.hcl,
                        describe(parent)
                    ),
                );
                return;
            }
            if !child.labels.is_empty() {
                ctx.error(&child.span, format!("a {} block takes no labels", f.hcl));
                return;
            }
            if let Some(v) = ctx.with_path(&[f.json], |ctx| block_map(ctx, kind, child)) {
                obj.insert(f.json.to_string(), v);
                ctx.record(&[f.json], &child.span);
            }
        }
        Shape::Attr(_) => ctx.error(
            &child.span,
            format!(
                "{0} is an argument, not a block: write {0} = <value>",
                f.hcl
            ),
        ),
        Shape::One(s) => {
            if obj.contains_key(f.json) {
                let first = ctx
                    .spans
                    .get(&ctx.pointer(f.json))
                    .map(|sp| format!(" (the first is at {}:{})", sp.start.line, sp.start.col))
                    .unwrap_or_default();
                ctx.error(
                    &child.span,
                    format!(
                        "only one {} block is allowed in {}{first}",
                        f.hcl,
                        describe(parent)
                    ),
                );
                return;
            }
            if let Some(v) = ctx.with_path(&[f.json], |ctx| decode_block(ctx, child, s)) {
                obj.insert(f.json.to_string(), Value::Object(v));
                ctx.record(&[f.json], &child.span);
            }
        }
        Shape::Many(s) => {
            let index = obj
                .get(f.json)
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
                .to_string();
            if let Some(v) = ctx.with_path(&[f.json, &index], |ctx| decode_block(ctx, child, s)) {
                push(obj, f.json, Value::Object(v));
                ctx.record(&[f.json, &index], &child.span);
            }
        }
        Shape::ByLabel(s) => {
            let Some(label) = child.labels.first().cloned() else {
                // decode_block reports the missing label.
                let _ = decode_block(ctx, child, s);
                return;
            };
            let exists = obj.get(f.json).and_then(|m| m.get(&label)).is_some();
            if exists {
                ctx.error(
                    &child.span,
                    format!("duplicate {} \"{label}\" in {}", f.hcl, describe(parent)),
                );
                return;
            }
            if let Some(v) = ctx.with_path(&[f.json, &label], |ctx| decode_block(ctx, child, s)) {
                let map = obj
                    .entry(f.json.to_string())
                    .or_insert_with(|| Value::Object(Obj::new()));
                if let Value::Object(m) = map {
                    m.insert(label.clone(), Value::Object(v));
                }
                ctx.record(&[f.json, &label], &child.span);
            }
        }
        Shape::Custom(h) => h(ctx, obj, f, Item::Block(child)),
        Shape::Derived => {}
    }
}

/// Appends to the array at `key`, creating it.
pub(crate) fn push(obj: &mut Obj, key: &str, v: Value) {
    match obj
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(a) => a.push(v),
        other => *other = Value::Array(vec![v]),
    }
}

fn unknown(
    ctx: &mut Ctx,
    parent: &Block,
    schema: &Schema,
    name: &str,
    span: &Span,
    is_block: bool,
) {
    let attrs = names(schema, false);
    let blocks = names(schema, true);
    let (mine, other) = if is_block {
        (&blocks, &attrs)
    } else {
        (&attrs, &blocks)
    };
    let what = if is_block { "block type" } else { "argument" };
    if other.contains(&name) {
        let msg = if is_block {
            format!("{name} is an argument, not a block: write {name} = <value>")
        } else {
            format!("{name} is a block, not an argument: write {name} {{ ... }} without \"=\"")
        };
        ctx.error(span, msg);
        return;
    }
    let hint = did_you_mean(name, mine).map(|s| format!("did you mean \"{s}\"?"));
    let valid = if mine.is_empty() {
        format!(
            "no {}s are allowed there",
            if is_block { "block" } else { "argument" }
        )
    } else {
        format!(
            "valid {}s: {}",
            if is_block { "block" } else { "argument" },
            mine.join(", ")
        )
    };
    ctx.error_hint(
        span,
        format!(
            "unsupported {what} \"{name}\" in {}; {valid}",
            describe(parent)
        ),
        hint,
    );
}
