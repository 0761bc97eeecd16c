//! Nodes: registration, status, drain, eligibility and events.

use std::sync::Arc;

use nomad_types::consts::{drain_status, node_eligibility, node_event_subsystem, node_status};
use nomad_types::node::{DrainMetadata, NodeEvent};
use nomad_types::{DrainStrategy, GoTime, Node};

use super::Txn;
use crate::command::{
    NodeBatchUpdateDrain, NodeDeregister, NodeEvents, NodeRegister, NodeUpdateDrain,
    NodeUpdateStatus,
};
use crate::error::ApplyError;
use crate::table::Table;

/// Node events kept per node (Nomad's `MaxRetainedNodeEvents`).
pub const MAX_RETAINED_NODE_EVENTS: usize = 10;

fn unresponsive(status: &str) -> bool {
    matches!(status, node_status::DOWN | node_status::DISCONNECTED)
}

fn secs(t: i64) -> GoTime {
    GoTime::from_unix_nanos(t.saturating_mul(1_000_000_000))
}

fn append_events(index: u64, node: &mut Node, events: impl IntoIterator<Item = NodeEvent>) {
    for mut e in events {
        e.create_index = index;
        node.events.push(e);
    }
    let len = node.events.len();
    if len > MAX_RETAINED_NODE_EVENTS {
        node.events.drain(..len - MAX_RETAINED_NODE_EVENTS);
    }
}

fn cluster_event(message: &str, at_secs: i64) -> NodeEvent {
    NodeEvent {
        message: message.to_string(),
        subsystem: node_event_subsystem::CLUSTER.to_string(),
        timestamp: secs(at_secs),
        ..NodeEvent::default()
    }
}

impl Txn<'_> {
    fn existing_node(&self, id: &str) -> Result<Arc<Node>, ApplyError> {
        self.t
            .nodes
            .get(id)
            .cloned()
            .ok_or_else(|| ApplyError::not_found("node", id))
    }

    fn store_node(&mut self, node: Node) {
        self.put_node(Arc::new(node));
        self.touch(Table::Nodes);
    }

    pub(super) fn node_register(&mut self, c: NodeRegister) -> Result<(), ApplyError> {
        let mut node = c.node;
        if node.id.is_empty() {
            return Err(ApplyError::Invalid("node without an ID".into()));
        }
        node.canonicalize();
        if node.computed_class.is_empty() {
            node.computed_class = node.compute_class();
        }
        match self.t.nodes.get(&node.id).cloned() {
            Some(ex) => {
                node.create_index = ex.create_index;
                node.modify_index = self.index;
                if !unresponsive(&ex.status) && unresponsive(&node.status) {
                    node.last_missed_heartbeat_index = self.index;
                }
                node.events = ex.events.clone();
                if ex.status == node_status::DOWN && node.status != node_status::DOWN {
                    let e = cluster_event("Node re-registered", node.status_updated_at);
                    append_events(self.index, &mut node, [e]);
                }
                // Eligibility and drain belong to the servers, not the client.
                node.scheduling_eligibility = ex.scheduling_eligibility.clone();
                node.drain_strategy = ex.drain_strategy.clone();
                node.last_drain = ex.last_drain.clone();
                node.last_missed_heartbeat_index = node
                    .last_missed_heartbeat_index
                    .max(ex.last_missed_heartbeat_index);
                node.last_alloc_update_index =
                    node.last_alloc_update_index.max(ex.last_alloc_update_index);
            }
            None => {
                node.events.clear();
                let e = cluster_event("Node registered", node.status_updated_at);
                append_events(self.index, &mut node, [e]);
                node.create_index = self.index;
                node.modify_index = self.index;
            }
        }
        self.store_node(node);
        Ok(())
    }

    pub(super) fn node_deregister(&mut self, c: &NodeDeregister) -> Result<(), ApplyError> {
        if c.node_ids.is_empty() {
            return Err(ApplyError::Invalid("node ids missing".into()));
        }
        for id in &c.node_ids {
            self.remove_node(id)
                .ok_or_else(|| ApplyError::not_found("node", id))?;
        }
        self.touch(Table::Nodes);
        Ok(())
    }

    pub(super) fn node_update_status(&mut self, c: NodeUpdateStatus) -> Result<(), ApplyError> {
        let ex = self.existing_node(&c.node_id)?;
        let mut node = (*ex).clone();
        node.status_updated_at = c.updated_at;
        if let Some(e) = c.node_event {
            append_events(self.index, &mut node, [e]);
        }
        node.status = c.status;
        node.modify_index = self.index;
        if !unresponsive(&ex.status) && unresponsive(&node.status) {
            node.last_missed_heartbeat_index = self.index;
        } else if ex.status != node_status::READY && node.status == node_status::READY {
            node.last_missed_heartbeat_index = 0;
        }
        self.store_node(node);
        Ok(())
    }

    pub(super) fn node_update_drain(&mut self, c: NodeUpdateDrain) -> Result<(), ApplyError> {
        self.update_node_drain(
            &c.node_id,
            c.drain_strategy,
            c.mark_eligible,
            c.updated_at,
            c.node_event,
            &c.meta,
            &c.accessor_id,
            false,
        )
    }

    pub(super) fn node_batch_update_drain(
        &mut self,
        c: NodeBatchUpdateDrain,
    ) -> Result<(), ApplyError> {
        let empty = Default::default();
        for (id, u) in &c.updates {
            let event = c.node_events.get(id).cloned();
            self.update_node_drain(
                id,
                u.drain_strategy.clone(),
                u.mark_eligible,
                c.updated_at,
                event,
                &empty,
                "",
                true,
            )?;
        }
        Ok(())
    }

    /// Nomad's `updateNodeDrainImpl`; `updated_at` is Unix seconds.
    #[allow(clippy::too_many_arguments)]
    fn update_node_drain(
        &mut self,
        node_id: &str,
        drain: Option<DrainStrategy>,
        mark_eligible: bool,
        updated_at: i64,
        event: Option<NodeEvent>,
        meta: &std::collections::BTreeMap<String, String>,
        accessor_id: &str,
        completed: bool,
    ) -> Result<(), ApplyError> {
        let ex = self.existing_node(node_id)?;
        let mut node = (*ex).clone();
        node.status_updated_at = updated_at;
        if let Some(e) = event {
            append_events(self.index, &mut node, [e]);
        }
        node.drain_strategy = drain;
        if node.drain_strategy.is_some() {
            node.scheduling_eligibility = node_eligibility::INELIGIBLE.to_string();
        } else if mark_eligible {
            node.scheduling_eligibility = node_eligibility::ELIGIBLE.to_string();
        }
        let was_draining = ex.drain_strategy.is_some();
        let draining = node.drain_strategy.is_some();
        if was_draining || draining {
            let now = secs(updated_at);
            if !was_draining {
                node.last_drain = Some(DrainMetadata {
                    started_at: now.clone(),
                    meta: meta.clone(),
                    ..DrainMetadata::default()
                });
            } else if node.last_drain.is_none() {
                let started = ex
                    .drain_strategy
                    .as_ref()
                    .and_then(|d| d.started_at.to_unix_nanos())
                    .map(|n| secs(n.div_euclid(1_000_000_000)))
                    .unwrap_or_default();
                node.last_drain = Some(DrainMetadata {
                    started_at: started,
                    meta: meta.clone(),
                    ..DrainMetadata::default()
                });
            }
            if let Some(ld) = &mut node.last_drain {
                ld.updated_at = now;
                if !meta.is_empty() {
                    ld.meta = meta.clone();
                }
                if !accessor_id.is_empty() {
                    ld.accessor_id = accessor_id.to_string();
                }
                ld.status = if draining {
                    drain_status::DRAINING
                } else if completed {
                    drain_status::COMPLETE
                } else {
                    drain_status::CANCELED
                }
                .to_string();
            }
        }
        node.modify_index = self.index;
        self.store_node(node);
        Ok(())
    }

    /// Nomad's `updateNodeEligibilityImpl`; `updated_at` is Unix seconds.
    pub fn update_node_eligibility(
        &mut self,
        node_id: &str,
        eligibility: &str,
        updated_at: i64,
        event: Option<NodeEvent>,
    ) -> Result<(), ApplyError> {
        let ex = self.existing_node(node_id)?;
        if ex.drain_strategy.is_some() && eligibility == node_eligibility::ELIGIBLE {
            return Err(ApplyError::Conflict(
                "can not set node's scheduling eligibility to eligible while it is draining".into(),
            ));
        }
        if eligibility != node_eligibility::ELIGIBLE && eligibility != node_eligibility::INELIGIBLE
        {
            return Err(ApplyError::Invalid(format!(
                "invalid scheduling eligibility {eligibility:?}"
            )));
        }
        let mut node = (*ex).clone();
        node.status_updated_at = updated_at;
        if let Some(e) = event {
            append_events(self.index, &mut node, [e]);
        }
        node.scheduling_eligibility = eligibility.to_string();
        node.modify_index = self.index;
        self.store_node(node);
        Ok(())
    }

    pub(super) fn node_events(&mut self, c: NodeEvents) -> Result<(), ApplyError> {
        for (id, events) in c.node_events {
            let ex = self.existing_node(&id)?;
            let mut node = (*ex).clone();
            append_events(self.index, &mut node, events);
            self.store_node(node);
        }
        Ok(())
    }
}
