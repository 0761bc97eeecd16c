//! The nomad-state store as nomad-raft's state machine.

use nomad_state::{ApplyResult, Command, Fsm, LogEntry, StateStore};
use tokio::sync::mpsc::UnboundedSender;

/// Adapter: [`StateStore`] implements `nomad_state::Fsm`, Raft wants
/// `nomad_raft::StateMachine`. It also reports the evaluations each entry
/// wrote, for the leader's broker (the report is a side channel: it does not
/// change what apply does, so apply stays deterministic).
pub(crate) struct StoreMachine {
    pub store: StateStore,
    pub evals: UnboundedSender<Applied>,
}

/// What the FSM reports to the server.
#[derive(Debug)]
pub(crate) enum Applied {
    /// Evaluations an entry wrote.
    Evals(Vec<String>),
    /// An operator's snapshot replaced the whole state.
    Restored,
}

/// A `Command::Restore` entry, recognised without decoding it (an
/// adjacently tagged enum is written with its tag first).
fn is_restore(data: &[u8]) -> bool {
    data.get(3..)
        .is_some_and(|b| b.starts_with(br#"{"Type":"Restore""#))
}

impl StoreMachine {
    /// Reports what a run of entries wrote, in log order: one message for
    /// the evaluations of consecutive entries (one wake-up of the router
    /// and one snapshot there per run, not per entry), a restore in its
    /// place among them.
    fn report<'a>(&self, run: impl IntoIterator<Item = (&'a ApplyResult, &'a [u8])>) {
        let mut ids = Vec::new();
        for (r, data) in run {
            ids.extend(r.evals.iter().cloned());
            if r.error.is_none() && is_restore(data) {
                if !ids.is_empty() {
                    let _ = self.evals.send(Applied::Evals(std::mem::take(&mut ids)));
                }
                let _ = self.evals.send(Applied::Restored);
            }
        }
        if !ids.is_empty() {
            let _ = self.evals.send(Applied::Evals(ids));
        }
    }
}

impl nomad_raft::StateMachine for StoreMachine {
    fn apply(&mut self, index: u64, data: &[u8]) -> Vec<u8> {
        let r = self.store.apply_bytes(index, data);
        self.report([(&r, data)]);
        r.encode()
    }
    /// The leader's own proposals: the command it encoded, applied without
    /// decoding the entry again (the decode of a plan's allocations was
    /// ~40% of the Raft thread at C1M). Debug builds check that the command
    /// is what the entry decodes to, as every other server applies it.
    fn apply_decoded(&mut self, index: u64, data: &[u8], decoded: nomad_raft::Decoded) -> Vec<u8> {
        self.apply_batch(vec![nomad_raft::Committed {
            index,
            data,
            decoded: Some(decoded),
            wanted: true,
        }])
        .pop()
        .unwrap_or_default()
    }
    /// A run of committed entries, published once (see
    /// [`StateStore::apply_batch`]).
    /// Results no proposer here waits for are not encoded.
    fn apply_batch(&mut self, entries: Vec<nomad_raft::Committed<'_>>) -> Vec<Vec<u8>> {
        let wanted: Vec<bool> = entries.iter().map(|e| e.wanted).collect();
        let entries: Vec<LogEntry<'_>> = entries
            .into_iter()
            .map(|e| {
                let decoded = e
                    .decoded
                    .and_then(|d| d.downcast::<Command>().ok())
                    .map(|c| *c);
                #[cfg(debug_assertions)]
                if let (Some(cmd), Ok(from_log)) = (&decoded, Command::decode(e.data)) {
                    assert!(
                        &from_log == cmd,
                        "entry {} ({}) does not decode to the command proposed",
                        e.index,
                        cmd.type_name()
                    );
                }
                LogEntry {
                    index: e.index,
                    data: e.data,
                    decoded,
                }
            })
            .collect();
        let datas: Vec<&[u8]> = entries.iter().map(|e| e.data).collect();
        let results = self.store.apply_batch(entries);
        self.report(results.iter().zip(datas.iter().copied()));
        results
            .iter()
            .zip(wanted)
            .map(|(r, wanted)| if wanted { r.encode() } else { Vec::new() })
            .collect()
    }
    fn snapshot(&self) -> Vec<u8> {
        Fsm::snapshot(&self.store)
    }
    fn write_snapshot(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.store.write_snapshot(w)
    }
    /// The tables are persistent maps: the capture is O(1), and the image
    /// (1.5 GB at a million allocations) is encoded on Raft's snapshot
    /// thread while entries go on being applied.
    fn snapshot_writer(&self) -> Option<nomad_raft::SnapshotWriter> {
        let snap = self.store.snapshot();
        Some(Box::new(move |w| snap.write_to(w)))
    }
    fn restore(&mut self, data: &[u8]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Fsm::restore(&mut self.store, data).map_err(|e| Box::new(e) as _)
    }
    fn applied_index(&self) -> u64 {
        Fsm::applied_index(&self.store)
    }
}

#[cfg(test)]
mod tests {
    use nomad_raft::StateMachine as _;
    use nomad_state::command::StateRestore;
    use nomad_state::{Command, StateStore};

    use super::StoreMachine;

    #[test]
    fn the_background_writer_writes_the_image_of_when_it_was_taken() {
        let (evals, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut m = StoreMachine {
            store: StateStore::default(),
            evals,
        };
        m.apply(1, &Command::Noop.encode());
        let mut before = Vec::new();
        m.write_snapshot(&mut before).expect("image");
        let writer = m.snapshot_writer().expect("a background writer");
        // Applied after the capture: not in the image.
        m.apply(2, &Command::Noop.encode());
        let mut written = Vec::new();
        std::thread::spawn(move || writer(&mut written).map(|()| written))
            .join()
            .expect("writer thread")
            .map(|w| assert_eq!(w, before, "same bytes as write_snapshot at capture time"))
            .expect("written");
        let mut after = Vec::new();
        m.write_snapshot(&mut after).expect("image");
        assert_ne!(after, before, "the state moved on");
    }

    /// One message for a run's evaluations, a restore in its place.
    #[test]
    fn a_run_reports_its_evaluations_once_and_a_restore_in_order() {
        use base64::Engine as _;
        use nomad_state::command::EvalUpdate;
        use nomad_types::Evaluation;

        let (evals, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut m = StoreMachine {
            store: StateStore::default(),
            evals,
        };
        let image = base64::engine::general_purpose::STANDARD
            .encode(nomad_state::Fsm::snapshot(&StateStore::default()));
        let eval = |id: &str| {
            Command::EvalUpdate(EvalUpdate {
                evals: vec![Evaluation {
                    id: id.into(),
                    namespace: "default".into(),
                    job_id: "web".into(),
                    status: "pending".into(),
                    ..Evaluation::default()
                }],
            })
            .encode()
        };
        let entries = [
            eval("e1"),
            eval("e2"),
            Command::Restore(StateRestore { image }).encode(),
            eval("e3"),
        ];
        let run = entries
            .iter()
            .enumerate()
            .map(|(i, data)| nomad_raft::Committed {
                index: i as u64 + 1,
                data,
                decoded: None,
                // No proposer here waits for e2's result.
                wanted: i != 1,
            })
            .collect();
        let results = m.apply_batch(run);
        assert_eq!(results.len(), 4);
        let first = nomad_state::ApplyResult::decode(&results[0]).expect("e1's result");
        assert_eq!(first.evals, ["e1"]);
        assert!(
            results[1].is_empty(),
            "a result no one waits for is not encoded"
        );
        let mut got = Vec::new();
        while let Ok(a) = rx.try_recv() {
            got.push(format!("{a:?}"));
        }
        assert_eq!(
            got,
            [
                r#"Evals(["e1", "e2"])"#.to_string(),
                "Restored".to_string(),
                r#"Evals(["e3"])"#.to_string(),
            ]
        );
    }

    #[test]
    fn recognises_restore_entries_only() {
        let r = Command::Restore(StateRestore { image: "x".into() }).encode();
        assert!(super::is_restore(&r));
        assert!(!super::is_restore(&Command::Noop.encode()));
        assert!(!super::is_restore(b"NL"));
    }
}
