//! What every command that talks to an agent shares: the global flags
//! (`-address`, `-region`, `-namespace`, `-token` and their `NOMAD_*`
//! variables), the HTTP client, and a small runtime to drive it.

use std::future::Future;

use clap::Args;
use nomad_api_client::{Client, Config};

use crate::Io;

/// Flags every command accepts, anywhere on the line.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// The address of the Nomad agent (NOMAD_ADDR; default http://127.0.0.1:4646).
    #[arg(long, global = true, value_name = "addr")]
    pub address: Option<String>,
    /// The region to forward commands to (NOMAD_REGION).
    #[arg(long, global = true, value_name = "region")]
    pub region: Option<String>,
    /// The target namespace; `*` for all (NOMAD_NAMESPACE).
    #[arg(long, global = true, value_name = "namespace")]
    pub namespace: Option<String>,
    /// The ACL token (NOMAD_TOKEN).
    #[arg(long, global = true, value_name = "token")]
    pub token: Option<String>,
    /// Disable colored output (output is never colored).
    #[arg(long = "no-color", global = true)]
    pub no_color: bool,
    /// Force colored output (accepted; output is not colored).
    #[arg(long = "force-color", global = true, hide = true)]
    pub force_color: bool,
}

/// A connected command context.
pub struct Ctx {
    pub client: Client,
    rt: tokio::runtime::Runtime,
    /// The `-namespace` given (or `NOMAD_NAMESPACE`), empty when unset.
    pub namespace: String,
}

impl Ctx {
    /// Builds the client from the flags and environment; prints Nomad's
    /// `Error initializing client` on failure.
    pub fn new(g: &GlobalArgs, io: &mut Io<'_>) -> Option<Ctx> {
        let mut cfg = Config::from_env(&io.env);
        if let Some(a) = g.address.as_ref().filter(|a| !a.is_empty()) {
            cfg.address = a.clone();
        }
        if let Some(r) = &g.region {
            cfg.region = r.clone();
        }
        if let Some(n) = &g.namespace {
            cfg.namespace = n.clone();
        }
        if let Some(t) = &g.token {
            cfg.token = t.clone();
        }
        let namespace = cfg.namespace.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let client = Client::new(cfg);
        match (client, rt) {
            (Ok(client), Ok(rt)) => Some(Ctx {
                client,
                rt,
                namespace,
            }),
            (Err(e), _) => {
                let _ = writeln!(io.err, "Error initializing client: {e}");
                None
            }
            (_, Err(e)) => {
                let _ = writeln!(io.err, "Error initializing client: {e}");
                None
            }
        }
    }

    /// Runs one request to completion.
    pub fn block<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Sleeps (between polls).
    pub fn sleep(&self, d: std::time::Duration) {
        // The timer is made inside the runtime: it needs its time driver.
        self.rt.block_on(async { tokio::time::sleep(d).await });
    }

    /// `-namespace=*`.
    pub fn all_namespaces(&self) -> bool {
        self.namespace == "*"
    }
}
