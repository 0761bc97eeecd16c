//! Any bytes, as a job file: parsing, canonicalizing and validating must
//! return a job or errors, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let opts = nomad_jobspec::ParseOptions {
        filename: "fuzz.nomad.hcl".into(),
        base_dir: std::env::temp_dir(),
        vars: Vec::new(),
        var_files: Vec::new(),
        env: Vec::new(),
        strict: true,
    };
    if let Ok((mut job, source)) = nomad_jobspec::parse_hcl(text, &opts) {
        job.canonicalize();
        let _ = nomad_jobspec::validate(&job, &source);
        let _ = serde_json::to_string(&job);
    }
});
