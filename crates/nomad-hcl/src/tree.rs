//! The evaluated document: blocks and attributes in source order, each with its
//! position, values fully evaluated (runtime interpolations kept as text).

use crate::diag::Span;

/// A body: the inside of a file or of a block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Body {
    /// Attributes in source order.
    pub attributes: Vec<Attribute>,
    /// Blocks in source order (a repeated block appears once per occurrence).
    pub blocks: Vec<Block>,
    /// The span of the whole body (the block's braces, or the file).
    pub span: Span,
}

/// `key = value`, after evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub key: String,
    /// Where the key stands.
    pub key_span: Span,
    pub value: hcl::Value,
    /// Where the value's expression stands.
    pub value_span: Span,
    /// Whether the value was written as an object constructor (`{ ... }`).
    /// Nomad's free-form maps (driver `config`) wrap such values in a list.
    pub object_literal: bool,
}

/// `ident "label" ... { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub ident: String,
    pub labels: Vec<String>,
    /// Where the block's identifier stands.
    pub span: Span,
    pub body: Body,
}

impl Body {
    /// The first attribute with this key.
    pub fn attribute(&self, key: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.key == key)
    }

    /// The blocks of one type, in source order.
    pub fn blocks_of<'a>(&'a self, ident: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.ident == ident)
    }
}
