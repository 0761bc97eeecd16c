//! The cost of `?filter=` per listed object: the filter sees the whole job
//! as JSON (as Nomad's sees the whole struct), so each object is encoded to
//! a `serde_json::Value` and matched: whole (`job_to_value_and_match`) or
//! only the fields the filter reads (`projected_and_match`, what the routes
//! do). Baseline in the same run: what a list already spends per job (its
//! stub, encoded as the response).
//!
//! `cargo bench -p nomad-benches --bench filter`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nomad_api::filter::Filter;
use nomad_jobspec::{parse_hcl, ParseOptions};
use std::hint::black_box;

const JOB: &str = include_str!("../jobspec/job200.nomad.hcl");
/// Reads the task groups, the bulk of a job: projecting saves little.
const EXPR: &str =
    r#"Status == "pending" and "dc1" in Datacenters and any TaskGroups as g { g.Count == 3 }"#;
/// Reads small fields only, as most list filters do.
const EXPR_SMALL: &str = r#"Status == "pending" and Meta.team == "shop" and Type == "service""#;

fn bench(c: &mut Criterion) {
    let opts = ParseOptions {
        filename: "job200.nomad.hcl".into(),
        base_dir: std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/jobspec")),
        vars: vec!["image=registry.local/shop/web:2.4.1".into()],
        var_files: Vec::new(),
        env: Vec::new(),
        strict: true,
    };
    let (mut job, _) = parse_hcl(JOB, &opts).unwrap_or_else(|e| panic!("{e}"));
    job.canonicalize();
    let filter = Filter::parse(EXPR).unwrap_or_else(|e| panic!("{e}"));
    let value = serde_json::to_value(&job).unwrap_or_default();
    assert!(
        filter.matches(&value).is_ok(),
        "the filter applies to the job"
    );

    let mut g = c.benchmark_group("filter_per_job");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline_list_stub_encoded", |b| {
        b.iter(|| {
            let stub = black_box(&job).stub(None);
            black_box(nomad_types::json::to_string_go(&stub).map(|s| s.len()))
        })
    });
    g.bench_function("job_to_value_and_match", |b| {
        b.iter(|| {
            let v = serde_json::to_value(black_box(&job)).unwrap_or_default();
            black_box(filter.matches(&v).ok())
        })
    });
    g.bench_function("projected_and_match", |b| {
        b.iter(|| black_box(filter.matches_object(black_box(&job)).ok()))
    });
    let small = Filter::parse(EXPR_SMALL).unwrap_or_else(|e| panic!("{e}"));
    g.bench_function("projected_and_match_small_fields", |b| {
        b.iter(|| black_box(small.matches_object(black_box(&job)).ok()))
    });
    g.bench_function("match_only", |b| {
        b.iter(|| black_box(filter.matches(black_box(&value)).ok()))
    });
    g.bench_function("parse", |b| {
        b.iter(|| black_box(Filter::parse(black_box(EXPR)).is_ok()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
