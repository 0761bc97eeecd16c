//! The nomad-state store as nomad-raft's state machine.

use nomad_state::{Fsm, StateStore};

/// Adapter: [`StateStore`] implements `nomad_state::Fsm`, Raft wants
/// `nomad_raft::StateMachine`; the shapes are the same.
pub(crate) struct StoreMachine(pub StateStore);

impl nomad_raft::StateMachine for StoreMachine {
    fn apply(&mut self, index: u64, data: &[u8]) -> Vec<u8> {
        Fsm::apply(&mut self.0, index, data)
    }
    fn snapshot(&self) -> Vec<u8> {
        Fsm::snapshot(&self.0)
    }
    fn restore(&mut self, data: &[u8]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Fsm::restore(&mut self.0, data).map_err(|e| Box::new(e) as _)
    }
    fn applied_index(&self) -> u64 {
        Fsm::applied_index(&self.0)
    }
}
