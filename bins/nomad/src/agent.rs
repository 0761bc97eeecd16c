//! `nomad agent`: builds the server, the client and the HTTP API from an
//! `AgentConfig` and runs them until Ctrl-C (a second Ctrl-C forces exit).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use nomad_cli::agent::AgentConfig;
use nomad_server::{Server, ServerConfig};

use nomad_server::rpc::{RpcClient, ServerEndpoint};

use crate::local::{LocalServer, RemoteServer};

/// Runs an agent; the exit code.
pub fn run(cfg: AgentConfig) -> i32 {
    let level = match cfg.log_level.to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "warn" => "warn",
        "error" | "err" => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("NOMAD_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},raft=warn,nomad_raft=info"))
    });
    // `nomad_cli::main` holds the stdout and stderr locks while a command
    // runs, so the agent writes through its own handles on those streams.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let log = std::sync::Mutex::new(Out::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(log)
        .try_init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(Out::stderr(), "==> Error starting agent: {e}");
            return 1;
        }
    };
    match rt.block_on(run_async(cfg)) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(Out::stderr(), "==> Error starting agent: {e:#}");
            1
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

async fn run_async(cfg: AgentConfig) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    if cfg.client && !cfg.server && cfg.servers.is_empty() {
        bail!("a client-only agent needs servers: set client {{ servers = [\"host:4647\"] }} or -servers");
    }
    let tmp = if cfg.data_dir.is_none() {
        Some(
            tempfile::Builder::new()
                .prefix("nomad-dev-")
                .tempdir()
                .context("creating a temporary data dir")?,
        )
    } else {
        None
    };
    let data_dir: PathBuf = match (&cfg.data_dir, &tmp) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => bail!("Must specify data directory"),
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let name = if cfg.name.is_empty() {
        hostname()
    } else {
        cfg.name.clone()
    };
    let bind: std::net::IpAddr = cfg
        .bind_addr
        .parse()
        .with_context(|| format!("invalid bind address {:?}", cfg.bind_addr))?;

    let server = if cfg.server {
        Some(start_server(&cfg, &name, &data_dir, bind).await?)
    } else {
        None
    };

    let http_addr = SocketAddr::new(bind, cfg.http_port);
    let listener = tokio::net::TcpListener::bind(http_addr)
        .await
        .with_context(|| format!("binding the HTTP API on {http_addr}"))?;
    let http_addr = listener.local_addr().unwrap_or(http_addr);
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();

    let client = if cfg.client {
        let mut cc = nomad_client::ClientConfig::dev(data_dir.join("client"));
        cc.drivers.clear();
        cc.name = name.clone();
        cc.datacenter = cfg.datacenter.clone();
        cc.region = cfg.region.clone();
        cc.node_class = cfg.node_class.clone();
        cc.meta = cfg.meta.clone();
        cc.http_addr = advertised_http(http_addr).to_string();
        for (plugin, pc) in &cfg.plugins {
            if plugin == "raw_exec" || plugin == "exec" || plugin == "docker" {
                cc.drivers.insert(plugin.clone(), pc.clone());
            }
        }
        // exec and docker are loaded by default, as in Nomad; docker reports
        // itself undetected when no daemon answers.
        for name in ["exec", "docker"] {
            cc.drivers
                .entry(name.into())
                .or_insert_with(serde_json_empty);
        }
        let api: Arc<dyn nomad_client::ServerApi> = match &server {
            Some(s) => Arc::new(LocalServer(s.0.clone())),
            None => Arc::new(RemoteServer(RpcClient::new(cfg.servers.clone()))),
        };
        let c = nomad_client::Client::start(cc, api)
            .await
            .context("starting the client")?;
        let shared: crate::client_fs::SharedClient = Arc::new(std::sync::Mutex::new(Some(c)));
        if let Some((s, _)) = &server {
            // `/v1/client/*` (logs, files, stats, exec…) reach this
            // process's client.
            s.attach_client_fs(Arc::new(crate::client_fs::LocalClientFs(shared.clone())));
        }
        Some(shared)
    } else {
        None
    };

    if let Some((s, _)) = &server {
        // Published with this server's member entry: client-only agents
        // learn it through `Status.Members` and forward `/v1` there.
        s.set_http_addr(advertised_http(http_addr).to_string());
    }
    let mut learner = None;
    let router = match (&server, &client) {
        (Some(server), _) => nomad_api::router(Arc::new(server.0.clone())),
        (None, Some(shared)) => {
            // A client-only agent answers `/v1/client/*` itself and
            // forwards every other request to its servers, as Nomad's do,
            // at the HTTP addresses the servers publish.
            let fs: Arc<dyn nomad_api::ClientFs> =
                Arc::new(crate::client_fs::LocalClientFs(shared.clone()));
            let rpc = RpcClient::new(cfg.servers.clone());
            let learned = crate::forward::fetch_endpoints(&rpc).await;
            let servers = server_http_addrs(&cfg.servers, learned.as_deref().unwrap_or(&[]));
            tracing::info!(servers = ?servers, learned = learned.is_some(), "forwarding the HTTP API to the servers");
            let current = Arc::new(std::sync::RwLock::new(nomad_api::client_agent_router(
                fs.clone(),
                servers.clone(),
            )));
            learner = Some(tokio::spawn(crate::forward::follow_servers(
                rpc,
                cfg.servers.clone(),
                fs,
                current.clone(),
                servers,
                learned.is_some(),
            )));
            crate::forward::swappable(current)
        }
        (None, None) => bail!("the agent runs neither a server nor a client"),
    };
    let http = tokio::spawn(async move {
        let shutdown = async move {
            let _ = http_stopped.await;
        };
        if let Err(e) = nomad_api::serve_router(listener, router, shutdown).await {
            tracing::error!(error = %e, "HTTP API stopped");
        }
    });

    let mut out = Out::stdout();
    let _ = writeln!(out, "==> Nomad agent configuration:\n");
    let rpc = server.as_ref().map(|s| s.1.to_string()).unwrap_or_default();
    let _ = writeln!(out, "       Advertise Addrs: HTTP: {http_addr}; RPC: {rpc}");
    let _ = writeln!(
        out,
        "            Bind Addrs: HTTP: [{http_addr}]; RPC: {rpc}"
    );
    let _ = writeln!(out, "                Client: {}", cfg.client);
    let _ = writeln!(out, "             Log Level: {}", cfg.log_level);
    let _ = writeln!(
        out,
        "               Node Id: {}",
        client
            .as_ref()
            .and_then(|c| c
                .lock()
                .ok()
                .and_then(|g| g.as_ref().map(|c| c.node_id().to_string())))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "                Region: {} (DC: {})",
        cfg.region, cfg.datacenter
    );
    let _ = writeln!(out, "                Server: {}", cfg.server);
    let _ = writeln!(
        out,
        "\n==> Nomad agent started! Log data will stream in below:\n"
    );
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, http = %http_addr, "agent started");

    wait_for_signal().await;
    let _ = writeln!(out, "==> Caught signal: interrupt");
    let _ = writeln!(out, "==> Gracefully shutting down agent...");
    tokio::spawn(async {
        wait_for_signal().await;
        let _ = writeln!(Out::stderr(), "==> Second interrupt: forcing exit");
        std::process::exit(1);
    });
    let _ = stop_http.send(());
    if let Some(l) = learner {
        l.abort();
    }
    let client = client.and_then(|c| c.lock().ok().and_then(|mut g| g.take()));
    if let Some(c) = client {
        c.shutdown().await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), http).await;
    if let Some((server, _)) = server {
        server.shutdown().await;
    }
    drop(tmp);
    Ok(())
}

/// Starts the server role. Raft shares the RPC port (Nomad's 4647) with
/// client and server RPCs; the serf port (4648) answers `server join`. A
/// dev server or `bootstrap_expect = 1` elects itself before this returns;
/// with more, the servers find each other through `retry_join`/`start_join`
/// or `nomad server join`, and bootstrap once enough are known. Returns the
/// server and its RPC address.
async fn start_server(
    cfg: &AgentConfig,
    name: &str,
    data_dir: &std::path::Path,
    bind: std::net::IpAddr,
) -> anyhow::Result<(Server, SocketAddr)> {
    let mut sc = ServerConfig {
        region: cfg.region.clone(),
        datacenter: cfg.datacenter.clone(),
        node_name: name.to_string(),
        data_dir: Some(data_dir.to_path_buf()),
        rpc_bind: SocketAddr::new(bind, cfg.rpc_port),
        serf_bind: SocketAddr::new(bind, if cfg.dev { 0 } else { cfg.serf_port }),
        bootstrap_expect: cfg.bootstrap_expect.max(1),
        start_join: cfg.start_join.clone(),
        retry_join: cfg.retry_join.clone(),
        retry_interval: cfg.retry_interval,
        retry_max: u32::try_from(cfg.retry_max).unwrap_or(u32::MAX),
        ..ServerConfig::default()
    };
    if cfg.dev {
        sc.raft_id = 1;
    }
    if cfg.num_schedulers > 0 {
        sc.num_schedulers = cfg.num_schedulers;
    }
    sc.event_buffer_size = cfg.event_buffer_size;
    if let Some(d) = cfg.heartbeat_grace {
        sc.heartbeat_grace = d;
    }
    if let Some(d) = cfg.min_heartbeat_ttl {
        sc.min_heartbeat_ttl = d;
    }
    sc.raft_snapshot_threshold = cfg.raft_snapshot_threshold;
    sc.raft_snapshot_interval = cfg.raft_snapshot_interval;
    sc.raft_trailing_logs = cfg.raft_trailing_logs;
    for (key, d) in &cfg.gc {
        let slot = match key.as_str() {
            "eval_gc_threshold" => &mut sc.gc.eval_gc_threshold,
            "batch_eval_gc_threshold" => &mut sc.gc.batch_eval_gc_threshold,
            "job_gc_threshold" => &mut sc.gc.job_gc_threshold,
            "job_gc_interval" => &mut sc.gc.job_gc_interval,
            "node_gc_threshold" => &mut sc.gc.node_gc_threshold,
            "deployment_gc_threshold" => &mut sc.gc.deployment_gc_threshold,
            _ => continue,
        };
        *slot = *d;
    }
    let server = Server::start(sc).await.context("starting the server")?;
    if cfg.bootstrap_expect <= 1 && !server.wait_for_leadership(Duration::from_secs(10)).await {
        bail!("the server did not become leader");
    }
    let rpc_addr = server.rpc_addr();
    Ok((server, rpc_addr))
}

/// A handle on stdout or stderr that does not take the std lock (a
/// duplicate of the file descriptor; falls back to the locked stream).
enum Out {
    File(std::fs::File),
    Stdout,
    Stderr,
}

impl Out {
    fn dup(fd: std::os::fd::BorrowedFd<'_>) -> Option<std::fs::File> {
        fd.try_clone_to_owned().ok().map(std::fs::File::from)
    }
    fn stdout() -> Out {
        use std::os::fd::AsFd;
        Self::dup(std::io::stdout().as_fd())
            .map(Out::File)
            .unwrap_or(Out::Stdout)
    }
    fn stderr() -> Out {
        use std::os::fd::AsFd;
        Self::dup(std::io::stderr().as_fd())
            .map(Out::File)
            .unwrap_or(Out::Stderr)
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Out::File(f) => f.write(buf),
            Out::Stdout => std::io::stdout().write(buf),
            Out::Stderr => std::io::stderr().write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::File(f) => f.flush(),
            Out::Stdout => std::io::stdout().flush(),
            Out::Stderr => std::io::stderr().flush(),
        }
    }
}

/// The HTTP address others reach this agent at: the bind address, or
/// the node's advertised IP when bound to every interface.
fn advertised_http(bind: SocketAddr) -> SocketAddr {
    if bind.ip().is_unspecified() {
        let (_, ip) = nomad_client::fingerprint::advertise_address("");
        SocketAddr::new(ip.into(), bind.port())
    } else {
        bind
    }
}

/// Where a client-only agent forwards `/v1` requests: the HTTP addresses
/// its servers publish (`learned`, from the `Status.Members` RPC), those of
/// the `configured` servers (by RPC address) first. This is the one place
/// that decides.
///
/// Until a server has answered, or when none publishes an address (an
/// older build), it falls back to Nomad's port layout: the HTTP port below
/// the RPC port (4646 beside 4647), then 4646 on the same host.
pub fn server_http_addrs(configured: &[String], learned: &[ServerEndpoint]) -> Vec<String> {
    fn push(out: &mut Vec<String>, a: &str) {
        if !a.is_empty() && !out.iter().any(|o| o == a) {
            out.push(a.to_string());
        }
    }
    let mut out: Vec<String> = Vec::new();
    for c in configured {
        for e in learned.iter().filter(|e| &e.rpc_addr == c) {
            push(&mut out, &e.http_addr);
        }
    }
    for e in learned {
        push(&mut out, &e.http_addr);
    }
    if !out.is_empty() {
        return out;
    }
    for s in configured {
        match s.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
            Some((host, Ok(port))) if port > 1 => {
                push(&mut out, &format!("{host}:{}", port - 1));
                push(&mut out, &format!("{host}:4646"));
            }
            _ => push(&mut out, &format!("{s}:4646")),
        }
    }
    out
}

fn serde_json_empty() -> serde_json::Value {
    serde_json::json!({})
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(rpc: &str, http: &str) -> ServerEndpoint {
        ServerEndpoint {
            name: format!("{rpc}.global"),
            rpc_addr: rpc.into(),
            http_addr: http.into(),
        }
    }

    #[test]
    fn published_addresses_win_configured_servers_first() {
        let configured = vec!["10.0.0.2:9000".to_string()];
        let learned = vec![
            ep("10.0.0.1:9000", "10.0.0.1:8000"),
            ep("10.0.0.2:9000", "10.0.0.2:8000"),
            ep("10.0.0.3:9000", ""),
        ];
        assert_eq!(
            server_http_addrs(&configured, &learned),
            ["10.0.0.2:8000", "10.0.0.1:8000"]
        );
    }

    #[test]
    fn nomads_port_layout_until_a_server_answers() {
        let configured = vec!["10.0.0.1:4647".to_string(), "host".to_string()];
        assert_eq!(
            server_http_addrs(&configured, &[]),
            ["10.0.0.1:4646", "host:4646"]
        );
        // Servers of an older build publish nothing.
        assert_eq!(
            server_http_addrs(&configured, &[ep("10.0.0.1:4647", "")]),
            ["10.0.0.1:4646", "host:4646"]
        );
    }
}
