//! What every server spends on one job registration's log entry, outside
//! Raft: the leader encodes it and applies its own in-memory copy; each
//! follower decodes the bytes and applies them. Entries are applied in runs
//! of 30 (about one Raft round under `api-harness register`), into a state
//! that already holds 60,000 registrations and grows as the bench runs, as
//! it does under that load.
//!
//! Baseline in the same run: parsing the same bytes into a generic
//! `serde_json::Value` (what reading the JSON costs before any of our
//! types is built).
//!
//! `cargo bench -p nomad-benches --bench apply`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nomad_state::command::{Command, JobRegister};
use nomad_state::{LogEntry, StateStore};
use nomad_types::{Evaluation, Job};
use std::hint::black_box;

/// Entries per applied run.
const RUN: usize = 30;
/// Registrations in the state before measuring.
const PREFILL: u64 = 60_000;

/// The job `api-harness register` submits, canonicalized as the server
/// does before proposing it, with its evaluation.
fn register(n: u64) -> Command {
    let id = format!("reg-0-{n}");
    let text = format!(
        r#"{{"ID":"{id}","Name":"{id}","Type":"service","Datacenters":["dc1"],
        "Constraints":[{{"LTarget":"${{attr.kernel.name}}","RTarget":"no-such-os","Operand":"="}}],
        "TaskGroups":[{{"Name":"g","Count":1,"Tasks":[{{"Name":"t","Driver":"raw_exec",
        "Config":{{"command":"/bin/true"}},"Resources":{{"CPU":20,"MemoryMB":16}}}}]}}]}}"#
    );
    let mut job: Job = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    job.namespace = Some("default".into());
    job.canonicalize();
    let now = 1_700_000_000_000_000_000 + n as i64;
    // Random-looking, as evaluation IDs are: consecutive IDs would make
    // the state's inserts unrealistically local.
    let h = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let eval = Evaluation {
        id: format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            h >> 32,
            (h >> 16) & 0xffff,
            h & 0xfff,
            (h >> 20) & 0xfff,
            h & 0xffff_ffff_ffff
        ),
        namespace: "default".into(),
        priority: 50,
        eval_type: "service".into(),
        triggered_by: "job-register".into(),
        job_id: id,
        status: "pending".into(),
        create_time: now,
        modify_time: now,
        ..Evaluation::default()
    };
    Command::JobRegister(JobRegister {
        job,
        eval: Some(eval),
        submit_time: now,
        ..JobRegister::default()
    })
}

fn bench(c: &mut Criterion) {
    let cmd = register(1);
    let bytes = cmd.encode();
    assert_eq!(Command::decode(&bytes).ok().as_ref(), Some(&cmd));

    let mut g = c.benchmark_group("register_entry");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline_parse_to_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes[3..])))
    });
    g.bench_function("encode_leader", |b| b.iter(|| black_box(&cmd).encode()));
    g.bench_function("decode_follower", |b| {
        b.iter(|| Command::decode(black_box(&bytes)))
    });
    g.finish();

    let mut g = c.benchmark_group("register_apply");
    g.throughput(Throughput::Elements(RUN as u64));
    for follower in [false, true] {
        let name = if follower {
            "follower_decode_and_apply_run_of_30"
        } else {
            "leader_apply_run_of_30"
        };
        // A state already holding PREFILL registrations, so that the
        // measured runs meet the tree depths of a loaded server.
        let mut store = StateStore::default();
        let mut next = 0u64;
        let mut index = 10u64;
        while next < PREFILL {
            let cmds: Vec<Command> = (0..RUN as u64).map(|i| register(next + i)).collect();
            next += RUN as u64;
            let entries: Vec<LogEntry<'_>> = cmds
                .into_iter()
                .map(|cmd| {
                    index += 1;
                    LogEntry {
                        index,
                        data: &[],
                        decoded: Some(cmd),
                    }
                })
                .collect();
            store.apply_batch(entries);
        }
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let cmds: Vec<Command> = (0..RUN as u64).map(|i| register(next + i)).collect();
                    next += RUN as u64;
                    let bytes: Vec<Vec<u8>> = cmds.iter().map(Command::encode).collect();
                    (cmds, bytes)
                },
                |(cmds, bytes)| {
                    let entries: Vec<LogEntry<'_>> = bytes
                        .iter()
                        .zip(cmds)
                        .map(|(data, cmd)| {
                            index += 1;
                            LogEntry {
                                index,
                                data,
                                decoded: (!follower).then_some(cmd),
                            }
                        })
                        .collect();
                    let results = store.apply_batch(entries);
                    assert!(results.iter().all(|r| r.error.is_none()));
                    results
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
