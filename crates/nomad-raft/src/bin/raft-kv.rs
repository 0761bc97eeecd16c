//! `raft-kv`: one nomad-raft node over TCP with a line protocol for a key/value store, for
//! process-level fault tests (`kill -9` the leader and check nothing acknowledged is lost).
//!
//! ```text
//! raft-kv --id 1 --raft 127.0.0.1:7001 --client 127.0.0.1:8001 --data DIR \
//!         [--bootstrap 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003] [--timeout-ms 1000]
//! ```
//!
//! Client commands, one per line: `SET key value` → `OK index`; `GET key` (linearizable) →
//! `VAL value` or `NIL`; `CHECK key` (local) → `YES` or `NO`; `STATUS`; `DIGEST`. Errors are
//! `ERR message`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nomad_raft::{
    Config, KvCommand, KvStateMachine, RaftError, RaftHandle, RaftNode, TcpOptions, TcpTransport,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

struct Args {
    id: u64,
    raft: SocketAddr,
    client: SocketAddr,
    data: PathBuf,
    bootstrap: Vec<(u64, String)>,
    timeout: Duration,
}

fn usage(msg: &str) -> ! {
    eprintln!("raft-kv: {msg}\nusage: raft-kv --id N --raft ADDR --client ADDR --data DIR [--bootstrap ID=ADDR,...] [--timeout-ms MS]");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let (mut id, mut raft, mut client, mut data) = (None, None, None, None);
    let mut bootstrap = Vec::new();
    let mut timeout = Duration::from_millis(1000);
    while let Some(flag) = it.next() {
        let val = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--id" => id = val.parse().ok(),
            "--raft" => raft = val.parse().ok(),
            "--client" => client = val.parse().ok(),
            "--data" => data = Some(PathBuf::from(val)),
            "--timeout-ms" => {
                timeout =
                    Duration::from_millis(val.parse().unwrap_or_else(|_| usage("bad --timeout-ms")))
            }
            "--bootstrap" => {
                for part in val.split(',') {
                    let (i, a) = part
                        .split_once('=')
                        .unwrap_or_else(|| usage("bad --bootstrap"));
                    let i = i.parse().unwrap_or_else(|_| usage("bad --bootstrap id"));
                    bootstrap.push((i, a.to_string()));
                }
            }
            other => usage(&format!("unknown flag {other}")),
        }
    }
    Args {
        id: id.unwrap_or_else(|| usage("--id is required")),
        raft: raft.unwrap_or_else(|| usage("--raft is required")),
        client: client.unwrap_or_else(|| usage("--client is required")),
        data: data.unwrap_or_else(|| usage("--data is required")),
        bootstrap,
        timeout,
    }
}

fn main() {
    let args = parse_args();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("raft-kv: runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(args)) {
        eprintln!("raft-kv: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let transport =
        TcpTransport::bind(args.id, "raft-kv", args.raft, TcpOptions::default()).await?;
    let kv = Arc::new(Mutex::new(KvStateMachine::new()));
    let cfg = Config {
        cluster_id: "raft-kv".into(),
        request_timeout: args.timeout,
        ..Config::new(args.id)
    };
    let (handle, join) = RaftNode::start(cfg, &args.data, transport, kv.clone())?;
    tokio::spawn(async move {
        // The node only stops on a fatal error here: exit rather than serve errors forever.
        let outcome = join.await;
        eprintln!("raft-kv: raft node stopped: {outcome:?}");
        std::process::exit(1);
    });
    if !args.bootstrap.is_empty() && !handle.status().initialized {
        match handle.bootstrap(args.bootstrap.clone()).await {
            Ok(()) | Err(RaftError::AlreadyBootstrapped) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let listener = TcpListener::bind(args.client).await?;
    tracing::info!(id = args.id, raft = %args.raft, client = %args.client, "raft-kv ready");
    loop {
        let (stream, _) = listener.accept().await?;
        let handle = handle.clone();
        let kv = kv.clone();
        tokio::spawn(async move {
            let _ = serve(stream, handle, kv).await;
        });
    }
}

async fn serve(
    stream: TcpStream,
    handle: RaftHandle,
    kv: Arc<Mutex<KvStateMachine>>,
) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    while let Some(line) = lines.next_line().await? {
        let reply = answer(&line, &handle, &kv).await;
        wr.write_all(reply.as_bytes()).await?;
        wr.write_all(b"\n").await?;
    }
    Ok(())
}

fn read_kv<T>(kv: &Mutex<KvStateMachine>, f: impl FnOnce(&KvStateMachine) -> T) -> T {
    f(&kv.lock().unwrap_or_else(|e| e.into_inner()))
}

async fn answer(line: &str, handle: &RaftHandle, kv: &Mutex<KvStateMachine>) -> String {
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some("SET"), Some(k), Some(v)) => {
            let cmd = KvCommand::Set(k.as_bytes().to_vec(), v.as_bytes().to_vec());
            match handle.propose(cmd.encode()).await {
                Ok((index, _)) => format!("OK {index}"),
                Err(e) => format!("ERR {e}"),
            }
        }
        (Some("GET"), Some(k), None) => match handle.read_index().await {
            Ok(_) => match read_kv(kv, |kv| kv.get(k.as_bytes()).map(|v| v.to_vec())) {
                Some(v) => format!("VAL {}", String::from_utf8_lossy(&v)),
                None => "NIL".to_string(),
            },
            Err(e) => format!("ERR {e}"),
        },
        (Some("CHECK"), Some(k), None) => {
            if read_kv(kv, |kv| kv.get(k.as_bytes()).is_some()) {
                "YES".to_string()
            } else {
                "NO".to_string()
            }
        }
        (Some("STATUS"), None, None) => {
            let s = handle.status();
            format!(
                "STATUS id={} role={:?} leader={} term={} commit={} applied={}",
                s.id,
                s.role,
                s.leader_id.unwrap_or(0),
                s.term,
                s.commit,
                s.applied
            )
        }
        (Some("DIGEST"), None, None) => {
            let (d, n) = read_kv(kv, |kv| (kv.digest(), kv.len()));
            format!("DIGEST {d:016x} {n}")
        }
        _ => "ERR unknown command".to_string(),
    }
}
