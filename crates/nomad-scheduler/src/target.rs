//! Constraint, affinity and spread targets: `${attr.kernel.name}`,
//! `${meta.rack}`, `${node.datacenter}`, or a literal.
//!
//! A target is parsed once per job into a [`Target`] and then resolved
//! against each candidate node through the [`NodeView`] trait, with no string
//! matching on the hot path.
//!
//! Parsing follows Nomad's resolver exactly:
//! * a string that does not start with `${` is a literal, whatever it
//!   contains (`"$x"`, `""`, `"linux"`);
//! * the exact forms `${node.unique.id}`, `${node.unique.name}`,
//!   `${node.datacenter}`, `${node.class}` and `${node.pool}` name node
//!   fields;
//! * anything starting with `${attr.` or `${meta.` names an attribute or a
//!   meta key: the prefix is removed and then one trailing `}` if present
//!   (so `${attr.a` names `a`, and `${attr.a}}` names `a}`);
//! * any other `${…}` resolves to nothing ([`Target::Unresolvable`]).
//!
//! `${node.region}` is parsed as [`NodeField::Region`] so callers can name
//! it, but it resolves to nothing: Nomad's scheduler does not interpolate it
//! (its resolver has no case for it, and job validation rejects it as a
//! constraint attribute).

use thiserror::Error;

/// Read access to the node fields a target can name. The scheduler's node
/// type implements this; attribute and meta lookups should be cheap (a hash
/// map or a sorted slice).
pub trait NodeView {
    /// `${node.unique.id}`.
    fn id(&self) -> &str;
    /// `${node.unique.name}`.
    fn name(&self) -> &str;
    /// `${node.datacenter}`.
    fn datacenter(&self) -> &str;
    /// `${node.class}`.
    fn node_class(&self) -> &str;
    /// `${node.pool}`.
    fn node_pool(&self) -> &str;
    /// `${attr.<key>}`: a fingerprinted attribute.
    fn attribute(&self, key: &str) -> Option<&str>;
    /// `${meta.<key>}`: client metadata.
    fn meta(&self, key: &str) -> Option<&str>;
}

/// A node field a target can name directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeField {
    /// `${node.unique.id}`
    Id,
    /// `${node.unique.name}`
    Name,
    /// `${node.datacenter}`
    Datacenter,
    /// `${node.class}`
    Class,
    /// `${node.pool}`
    Pool,
    /// `${node.region}`: never resolved by Nomad's scheduler (see the module
    /// documentation).
    Region,
}

/// A parsed target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A literal value, used as is.
    Literal(Box<str>),
    /// `${attr.<name>}`
    Attr(Box<str>),
    /// `${meta.<name>}`
    Meta(Box<str>),
    /// `${node.…}`
    NodeField(NodeField),
    /// Any other interpolation; it never resolves. Holds the original text.
    Unresolvable(Box<str>),
}

/// Why a target is not a valid constraint attribute.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TargetError {
    /// Starts with `$` but not `${`.
    #[error("attribute {0:?} is missing an opening brace")]
    MissingOpeningBrace(String),
    /// Starts with `${` but does not end with `}`.
    #[error("attribute {0:?} is missing a closing brace")]
    MissingClosingBrace(String),
    /// A well-formed interpolation that Nomad does not support.
    #[error("unsupported attribute {0:?}")]
    Unsupported(String),
}

const ATTR_PREFIX: &str = "${attr.";
const META_PREFIX: &str = "${meta.";

impl Target {
    /// Parses a target string (see the module documentation for the rules).
    pub fn parse(raw: &str) -> Target {
        if !raw.starts_with("${") {
            return Target::Literal(raw.into());
        }
        let field = match raw {
            "${node.unique.id}" => Some(NodeField::Id),
            "${node.datacenter}" => Some(NodeField::Datacenter),
            "${node.unique.name}" => Some(NodeField::Name),
            "${node.class}" => Some(NodeField::Class),
            "${node.pool}" => Some(NodeField::Pool),
            "${node.region}" => Some(NodeField::Region),
            _ => None,
        };
        if let Some(field) = field {
            return Target::NodeField(field);
        }
        if let Some(rest) = raw.strip_prefix(ATTR_PREFIX) {
            return Target::Attr(strip_one_brace(rest).into());
        }
        if let Some(rest) = raw.strip_prefix(META_PREFIX) {
            return Target::Meta(strip_one_brace(rest).into());
        }
        Target::Unresolvable(raw.into())
    }

    /// The value of this target on `node`, or `None` when it is not set
    /// there (a missing attribute or meta key, or an unresolvable target).
    #[inline]
    pub fn resolve<'a, N: NodeView + ?Sized>(&'a self, node: &'a N) -> Option<&'a str> {
        match self {
            Target::Literal(value) => Some(value),
            Target::Attr(key) => node.attribute(key),
            Target::Meta(key) => node.meta(key),
            Target::NodeField(field) => match field {
                NodeField::Id => Some(node.id()),
                NodeField::Name => Some(node.name()),
                NodeField::Datacenter => Some(node.datacenter()),
                NodeField::Class => Some(node.node_class()),
                NodeField::Pool => Some(node.node_pool()),
                NodeField::Region => None,
            },
            Target::Unresolvable(_) => None,
        }
    }

    /// Whether this is a literal (resolves to the same value on every node).
    pub fn is_literal(&self) -> bool {
        matches!(self, Target::Literal(_))
    }

    /// The literal value, if this is a literal.
    pub fn as_literal(&self) -> Option<&str> {
        match self {
            Target::Literal(value) => Some(value),
            _ => None,
        }
    }

    /// Whether a constraint on this target defeats Nomad's computed node
    /// class cache: targets that name unique node data (`${node.unique.*}`,
    /// `${attr.unique.*}`, `${meta.unique.*}`, `${unique.*}`) differ per node,
    /// so feasibility cannot be memoized per class.
    pub fn escapes_computed_class(&self) -> bool {
        match self {
            Target::Literal(_) => false,
            Target::Attr(key) | Target::Meta(key) => key.starts_with("unique."),
            Target::NodeField(field) => matches!(field, NodeField::Id | NodeField::Name),
            Target::Unresolvable(raw) => {
                raw.starts_with("${unique.") || raw.starts_with("${node.unique.")
            }
        }
    }
}

/// Removes one trailing `}` if there is one.
fn strip_one_brace(s: &str) -> &str {
    s.strip_suffix('}').unwrap_or(s)
}

/// Checks a constraint's left-hand attribute the way Nomad's job validation
/// does: literals (no leading `$`) are fine; interpolations must be
/// brace-delimited and either one of the exact node fields (not
/// `${node.region}`) or start with `${attr.`, `${device.` or `${meta.`.
pub fn validate_constraint_target(raw: &str) -> Result<(), TargetError> {
    if !raw.starts_with('$') {
        return Ok(());
    }
    if !raw.starts_with("${") {
        return Err(TargetError::MissingOpeningBrace(raw.to_owned()));
    }
    if !raw.ends_with('}') {
        return Err(TargetError::MissingClosingBrace(raw.to_owned()));
    }
    const EXACT: [&str; 5] = [
        "${node.unique.id}",
        "${node.datacenter}",
        "${node.unique.name}",
        "${node.class}",
        "${node.pool}",
    ];
    const PREFIXES: [&str; 3] = [ATTR_PREFIX, "${device.", META_PREFIX];
    if EXACT.contains(&raw) || PREFIXES.iter().any(|p| raw.starts_with(p)) {
        Ok(())
    } else {
        Err(TargetError::Unsupported(raw.to_owned()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A node for tests across the crate.
    #[derive(Default)]
    pub(crate) struct TestNode {
        pub id: String,
        pub name: String,
        pub datacenter: String,
        pub class: String,
        pub pool: String,
        pub attrs: HashMap<String, String>,
        pub meta: HashMap<String, String>,
    }

    impl TestNode {
        pub(crate) fn sample() -> Self {
            let mut node = TestNode {
                id: "5d2a1b64-unique".into(),
                name: "client-1".into(),
                datacenter: "dc1".into(),
                class: "large".into(),
                pool: "default".into(),
                ..Default::default()
            };
            node.attrs.insert("kernel.name".into(), "linux".into());
            node.attrs
                .insert("kernel.version".into(), "5.15.0-91-generic".into());
            node.attrs.insert("cpu.numcores".into(), "8".into());
            node.attrs.insert("unique.hostname".into(), "host-1".into());
            node.meta.insert("rack".into(), "r1".into());
            node
        }
    }

    impl NodeView for TestNode {
        fn id(&self) -> &str {
            &self.id
        }
        fn name(&self) -> &str {
            &self.name
        }
        fn datacenter(&self) -> &str {
            &self.datacenter
        }
        fn node_class(&self) -> &str {
            &self.class
        }
        fn node_pool(&self) -> &str {
            &self.pool
        }
        fn attribute(&self, key: &str) -> Option<&str> {
            self.attrs.get(key).map(String::as_str)
        }
        fn meta(&self, key: &str) -> Option<&str> {
            self.meta.get(key).map(String::as_str)
        }
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(Target::parse("linux"), Target::Literal("linux".into()));
        assert_eq!(Target::parse(""), Target::Literal("".into()));
        assert_eq!(Target::parse("$attr.x"), Target::Literal("$attr.x".into()));
        assert_eq!(
            Target::parse("${attr.kernel.name}"),
            Target::Attr("kernel.name".into())
        );
        assert_eq!(Target::parse("${meta.rack}"), Target::Meta("rack".into()));
        assert_eq!(
            Target::parse("${node.unique.id}"),
            Target::NodeField(NodeField::Id)
        );
        assert_eq!(
            Target::parse("${node.unique.name}"),
            Target::NodeField(NodeField::Name)
        );
        assert_eq!(
            Target::parse("${node.datacenter}"),
            Target::NodeField(NodeField::Datacenter)
        );
        assert_eq!(
            Target::parse("${node.class}"),
            Target::NodeField(NodeField::Class)
        );
        assert_eq!(
            Target::parse("${node.pool}"),
            Target::NodeField(NodeField::Pool)
        );
        assert_eq!(
            Target::parse("${node.region}"),
            Target::NodeField(NodeField::Region)
        );
        assert_eq!(
            Target::parse("${node.unique.foo}"),
            Target::Unresolvable("${node.unique.foo}".into())
        );
    }

    #[test]
    fn brace_trimming_matches_nomad() {
        assert_eq!(Target::parse("${attr.a"), Target::Attr("a".into()));
        assert_eq!(Target::parse("${attr.a}}"), Target::Attr("a}".into()));
        assert_eq!(Target::parse("${meta.}"), Target::Meta("".into()));
        // Exact node forms must match exactly.
        assert_eq!(
            Target::parse("${node.class} "),
            Target::Unresolvable("${node.class} ".into())
        );
    }

    #[test]
    fn resolves_against_a_node() {
        let node = TestNode::sample();
        let r = |raw: &str| Target::parse(raw).resolve(&node).map(str::to_owned);
        assert_eq!(r("${attr.kernel.name}").as_deref(), Some("linux"));
        assert_eq!(r("${attr.missing}"), None);
        assert_eq!(r("${meta.rack}").as_deref(), Some("r1"));
        assert_eq!(r("${meta.zone}"), None);
        assert_eq!(r("${node.unique.id}").as_deref(), Some("5d2a1b64-unique"));
        assert_eq!(r("${node.unique.name}").as_deref(), Some("client-1"));
        assert_eq!(r("${node.datacenter}").as_deref(), Some("dc1"));
        assert_eq!(r("${node.class}").as_deref(), Some("large"));
        assert_eq!(r("${node.pool}").as_deref(), Some("default"));
        assert_eq!(r("${node.region}"), None);
        assert_eq!(r("${foo}"), None);
        assert_eq!(r("dc1").as_deref(), Some("dc1"));
    }

    #[test]
    fn computed_class_escape() {
        let escapes = |raw: &str| Target::parse(raw).escapes_computed_class();
        assert!(escapes("${node.unique.id}"));
        assert!(escapes("${node.unique.name}"));
        assert!(escapes("${node.unique.other}"));
        assert!(escapes("${attr.unique.hostname}"));
        assert!(escapes("${meta.unique.serial}"));
        assert!(escapes("${unique.anything}"));
        assert!(!escapes("${attr.kernel.name}"));
        assert!(!escapes("${node.datacenter}"));
        assert!(!escapes("unique.literal"));
    }

    #[test]
    fn validation_matches_nomad() {
        assert!(validate_constraint_target("linux").is_ok());
        assert!(validate_constraint_target("${attr.kernel.name}").is_ok());
        assert!(validate_constraint_target("${device.model}").is_ok());
        assert!(validate_constraint_target("${meta.rack}").is_ok());
        assert!(validate_constraint_target("${node.pool}").is_ok());
        assert_eq!(
            validate_constraint_target("$attr.x"),
            Err(TargetError::MissingOpeningBrace("$attr.x".into()))
        );
        assert_eq!(
            validate_constraint_target("${attr.x"),
            Err(TargetError::MissingClosingBrace("${attr.x".into()))
        );
        assert_eq!(
            validate_constraint_target("${node.region}"),
            Err(TargetError::Unsupported("${node.region}".into()))
        );
    }
}
