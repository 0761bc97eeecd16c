//! Jobspec throughput: parse + canonicalize + validate of a ~200-line job
//! file, with the JSON reading of the same job as a baseline in the same run.
//!
//! `cargo bench -p nomad-benches --bench jobspec`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nomad_jobspec::{parse_hcl, parse_json, validate, ParseOptions};
use std::hint::black_box;

const JOB: &str = include_str!("job200.nomad.hcl");

fn opts() -> ParseOptions {
    ParseOptions {
        filename: "job200.nomad.hcl".into(),
        base_dir: std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/jobspec")),
        vars: vec!["image=registry.local/shop/web:2.4.1".into()],
        var_files: Vec::new(),
        env: Vec::new(),
        strict: true,
    }
}

fn bench(c: &mut Criterion) {
    let opts = opts();
    let lines = JOB.lines().count();
    let (job, _) = match parse_hcl(JOB, &opts) {
        Ok(j) => j,
        Err(e) => panic!("the bench job does not parse:\n{e}"),
    };
    let json = serde_json::to_string(&serde_json::json!({ "Job": job })).unwrap_or_default();
    // JSON jobs take no variables: they are already evaluated.
    let json_opts = ParseOptions {
        vars: Vec::new(),
        ..opts.clone()
    };

    let mut g = c.benchmark_group(format!("jobspec_{lines}_lines"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("hcl_parse_canonicalize_validate", |b| {
        b.iter(|| {
            let (mut job, source) =
                parse_hcl(black_box(JOB), &opts).unwrap_or_else(|e| panic!("{e}"));
            job.canonicalize();
            black_box(validate(&job, &source).is_ok())
        })
    });
    g.bench_function("json_parse_canonicalize_validate", |b| {
        b.iter(|| {
            let (mut job, source) =
                parse_json(black_box(&json), &json_opts).unwrap_or_else(|e| panic!("{e}"));
            job.canonicalize();
            black_box(validate(&job, &source).is_ok())
        })
    });
    let bare = serde_json::to_string(&job).unwrap_or_default();
    g.bench_function("json_lenient_read_only", |b| {
        b.iter(|| {
            black_box(nomad_types::json::from_str::<nomad_types::Job>(black_box(&bare)).is_ok())
        })
    });
    g.bench_function("json_strict_serde_read_only", |b| {
        b.iter(|| black_box(serde_json::from_str::<nomad_types::Job>(black_box(&bare)).is_ok()))
    });
    g.bench_function("canonicalize_validate_only", |b| {
        b.iter(|| {
            let mut j = job.clone();
            j.canonicalize();
            black_box(j.validate().is_ok())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
