//! The transaction's writes of evented objects: each goes to the tables
//! and, when the entry publishes events, into the transaction's record
//! (see [`crate::events`]).

use std::sync::Arc;

use nomad_types::{Allocation, Deployment, Evaluation, Job, Node};

use super::Txn;
use crate::events::{EventPayload, Written};
use crate::tables::JobKey;

impl Txn<'_> {
    fn record(&mut self, payload: EventPayload, removed: bool) {
        if self.record {
            self.written.push(Written { payload, removed });
        }
    }

    pub fn put_job(&mut self, key: JobKey, job: Arc<Job>) {
        self.record(EventPayload::Job(Arc::clone(&job)), false);
        self.t.jobs.insert(key, job);
    }

    pub fn remove_job(&mut self, key: &JobKey) -> Option<Arc<Job>> {
        let old = self.t.jobs.remove(key)?;
        self.record(EventPayload::Job(Arc::clone(&old)), true);
        Some(old)
    }

    pub fn put_node(&mut self, node: Arc<Node>) {
        self.record(EventPayload::Node(Arc::clone(&node)), false);
        self.t.put_node(node);
    }

    pub fn remove_node(&mut self, id: &str) -> Option<Arc<Node>> {
        let old = self.t.remove_node(id)?;
        self.record(EventPayload::Node(Arc::clone(&old)), true);
        Some(old)
    }

    pub fn put_alloc(&mut self, alloc: Arc<Allocation>) {
        self.record(EventPayload::Allocation(Arc::clone(&alloc)), false);
        self.t.put_alloc(alloc);
    }

    pub fn remove_alloc(&mut self, id: &str) -> Option<Arc<Allocation>> {
        let old = self.t.remove_alloc(id)?;
        self.record(EventPayload::Allocation(Arc::clone(&old)), true);
        Some(old)
    }

    pub fn put_eval(&mut self, eval: Arc<Evaluation>) {
        self.record(EventPayload::Evaluation(Arc::clone(&eval)), false);
        self.t.put_eval(eval);
    }

    pub fn remove_eval(&mut self, id: &str) -> Option<Arc<Evaluation>> {
        let old = self.t.remove_eval(id)?;
        self.record(EventPayload::Evaluation(Arc::clone(&old)), true);
        Some(old)
    }

    pub fn put_deployment(&mut self, d: Arc<Deployment>) {
        self.record(EventPayload::Deployment(Arc::clone(&d)), false);
        self.t.put_deployment(d);
    }

    pub fn remove_deployment(&mut self, id: &str) -> Option<Arc<Deployment>> {
        let old = self.t.remove_deployment(id)?;
        self.record(EventPayload::Deployment(Arc::clone(&old)), true);
        Some(old)
    }
}
