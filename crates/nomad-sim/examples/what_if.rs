//! What-if capacity planning: "will 200 more copies of this job fit, and
//! where would they go? If not, how many more nodes do we need?"
//!
//! ```text
//! cargo run --release -p nomad-sim --example what_if
//! ```
//!
//! The cluster comes from the simulator's text format, the job from a
//! real jobspec (parsed with `nomad-jobspec`). Every question is asked of a
//! fork of the simulated cluster, so the baseline is never disturbed.

use std::collections::BTreeMap;

use nomad_sim::{NodeGroup, Report, Simulator};

const CLUSTER: &str = r#"
seed = 2024

[nodes general-east]
count      = 40
datacenter = east
class      = general
cpu        = 8000
cores      = 8
memory     = 32768
attr.rack  = e1, e2, e3, e4

[nodes general-west]
count      = 40
datacenter = west
class      = general
cpu        = 8000
cores      = 8
memory     = 32768
attr.rack  = w1, w2, w3, w4

[nodes highmem-west]
count      = 10
datacenter = west
class      = highmem
cpu        = 16000
cores      = 16
memory     = 131072

[job api]
count       = 120
datacenters = east, west
cpu         = 1000
memory      = 2048
spread      = ${node.datacenter}

[job cache]
count       = 20
datacenters = west
cpu         = 2000
memory      = 24576
constraint  = ${node.class} = highmem

[job worker]
type        = batch
count       = 300
copies      = 2
datacenters = east, west
cpu         = 500
memory      = 1024
"#;

/// The job we are asked about, as its owners wrote it.
const JOBSPEC: &str = r#"
job "checkout" {
  datacenters = ["east", "west"]

  group "web" {
    count = 200

    network {
      port "http" {}
    }

    spread {
      attribute = "${node.datacenter}"
    }

    task "server" {
      driver = "docker"
      config {
        image = "registry.local/checkout:4.2"
      }
      resources {
        cpu    = 2000
        memory = 4096
      }
    }
  }
}
"#;

fn by<K: Ord>(report: &Report, key: impl Fn(&nomad_sim::Placement) -> K) -> BTreeMap<K, u64> {
    report.count_placements_by(key)
}

fn show(report: &Report) {
    println!("{report}");
    let u = &report.utilisation;
    for (dc, t) in &u.by_datacenter {
        println!(
            "  datacenter {dc}: {} nodes, cpu {:.0}%, memory {:.0}%",
            t.nodes,
            t.cpu_fraction() * 100.0,
            t.memory_fraction() * 100.0
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut cluster = Simulator::from_config(CLUSTER)?;
    println!("== baseline");
    let baseline = cluster.run()?;
    show(&baseline);

    let (mut checkout, _) = nomad_jobspec::parse_hcl(
        JOBSPEC,
        &nomad_jobspec::ParseOptions {
            filename: "checkout.nomad.hcl".into(),
            strict: true,
            ..Default::default()
        },
    )?;
    checkout.canonicalize();

    println!("\n== will 200 copies of checkout fit?");
    let mut trial = cluster.fork();
    trial.register_job(checkout.clone())?;
    let report = trial.run()?;
    println!(
        "{} of 200 placed, {} not",
        report.placed_by_job.get("checkout").copied().unwrap_or(0),
        report.unplaced()
    );
    println!(
        "  by datacenter: {:?}",
        by(&report, |p| p.datacenter.clone())
    );
    println!(
        "  by node class: {:?}",
        by(&report, |p| p.node_class.clone())
    );
    let mut busiest: Vec<(String, u64)> =
        by(&report, |p| p.node_name.clone()).into_iter().collect();
    busiest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!(
        "  most loaded nodes: {:?}",
        &busiest[..busiest.len().min(5)]
    );
    for f in &report.failures {
        println!(
            "  {}/{}: {} unplaced — {}",
            f.job_id,
            f.group,
            f.unplaced,
            f.explanation()
        );
    }
    show(&report);

    if report.unplaced() > 0 {
        println!("\n== how many general nodes in the east would make it fit?");
        for extra in (5..=60).step_by(5) {
            let mut grown = cluster.fork();
            grown.add_node_group(
                &NodeGroup::new("general-east-new", extra)
                    .datacenter("east")
                    .class("general")
                    .cpu(8000, 8)
                    .memory(32768),
            );
            grown.register_job(checkout.clone())?;
            let r = grown.run()?;
            println!("  +{extra:2} nodes: {} unplaced", r.unplaced());
            if r.unplaced() == 0 {
                println!("  → add {extra} nodes; afterwards:");
                show(&r);
                break;
            }
        }
    }
    Ok(())
}
