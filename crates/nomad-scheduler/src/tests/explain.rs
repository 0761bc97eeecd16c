//! Explanations of failed placements (ours, not Nomad's).

use super::*;

#[test]
fn constraint_sentence_names_the_values_nodes_have() {
    let mut h = H::with_nodes(3);
    let mut j = service("web", 1);
    j.constraints
        .push(constraint("${attr.kernel.name}", "=", "windows"));
    let out = h.run(j);
    assert_eq!(
        out.eval.failed_tg_allocs["web"].explanation,
        "all 3 nodes were filtered by constraint ${attr.kernel.name} = windows; nodes have: linux (3)"
    );
}

#[test]
fn mixed_filters_name_the_top_two() {
    let mut h = H::with_nodes(2);
    let mut mac = node("mac");
    mac.attributes.insert("kernel.name".into(), "darwin".into());
    mac.drivers.clear();
    h.add_node(mac);
    let mut j = service("web", 1);
    j.task_groups[0].tasks[0].driver = "podman".into();
    let out = h.run(j);
    assert_eq!(
        out.eval.failed_tg_allocs["web"].explanation,
        "all 3 nodes were filtered for lack of a healthy podman driver; nodes have: docker (2), exec (2)"
    );
}

#[test]
fn no_nodes_in_datacenter() {
    let mut h = H::with_nodes(2);
    let mut j = service("web", 1);
    j.datacenters = vec!["dc9".into()];
    let out = h.run(j);
    assert_eq!(
        out.eval.failed_tg_allocs["web"].explanation,
        "no ready, eligible nodes in node pool default match datacenters dc9"
    );
}

#[test]
fn cpu_sentence_names_the_closest_node() {
    let mut h = H::with_nodes(2);
    let mut j = service("web", 3);
    resources(&mut j, 2500, 100);
    let out = h.run(j);
    let text = &out.eval.failed_tg_allocs["web"].explanation;
    assert!(
        text.starts_with("no node in dc1 has 2500 MHz of CPU free; the closest, node-0"),
        "{text}"
    );
    assert!(text.ends_with("has 1500 MHz"), "{text}");
}
