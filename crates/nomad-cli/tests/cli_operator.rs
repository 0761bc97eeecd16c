//! `nomad server join|force-leave`, `nomad operator raft list-peers|remove-peer`
//! and `nomad operator snapshot save|restore` against the in-memory cluster:
//! Nomad's output lines, error texts and exit codes.

use std::ffi::OsString;
use std::sync::Arc;

use nomad_api::testing::InMemoryCluster;

struct Out {
    code: i32,
    out: String,
    err: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "code {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.out, self.err
        )
    }
}

fn nomad(addr: &str, args: &[&str]) -> Out {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut stdin: &[u8] = b"";
    let mut io = nomad_cli::Io {
        out: &mut out,
        err: &mut err,
        stdin: &mut stdin,
        env: vec![("NOMAD_ADDR".to_string(), addr.to_string())],
    };
    let argv: Vec<OsString> = std::iter::once("nomad")
        .chain(args.iter().copied())
        .map(OsString::from)
        .collect();
    let code = nomad_cli::run(argv, &mut io);
    Out {
        code,
        out: String::from_utf8_lossy(&out).into_owned(),
        err: String::from_utf8_lossy(&err).into_owned(),
    }
}

fn setup() -> (Arc<InMemoryCluster>, String) {
    let cluster = Arc::new(InMemoryCluster::new());
    let addr = cluster.clone().spawn().expect("serve");
    (cluster, addr)
}

#[test]
fn server_join_and_force_leave() {
    let (cluster, addr) = setup();
    let r = nomad(&addr, &["server", "join", "10.0.0.2", "10.0.0.3:4648"]);
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "Joined 2 servers successfully\n"),
        "{r:?}"
    );
    assert_eq!(cluster.joined(), ["10.0.0.2:4648", "10.0.0.3:4648"]);
    let r = nomad(&addr, &["server-join", "10.0.0.4"]);
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "Joined 1 servers successfully\n"),
        "{r:?}"
    );

    // Nobody answering: the agent's error, through Nomad's two prefixes.
    cluster.set_unreachable("10.0.0.9:4648");
    let r = nomad(&addr, &["server", "join", "10.0.0.9"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.out.is_empty(), "{r:?}");
    assert!(
        r.err.starts_with(
            "Error joining: failed joining: 1 error occurred:\n\t* Failed to join 10.0.0.9:4648: dial tcp 10.0.0.9:4648: connect: connection refused\n"
        ),
        "{r:?}"
    );
    let r = nomad(&addr, &["server", "join"]);
    assert_eq!(
        (r.code, r.err.as_str()),
        (
            1,
            "One or more node addresses must be given as arguments\nFor additional help try 'nomad server join -help'\n"
        )
    );

    let r = nomad(&addr, &["server", "force-leave", "10.0.0.2.global"]);
    assert_eq!(
        (r.code, r.out.as_str(), r.err.as_str()),
        (0, "", ""),
        "{r:?}"
    );
    assert_eq!(cluster.joined(), ["10.0.0.3:4648", "10.0.0.4:4648"]);
    let r = nomad(&addr, &["server", "members"]);
    let left: Vec<&str> = r.out.lines().filter(|l| l.contains(" left ")).collect();
    assert_eq!(left.len(), 1, "{r:?}");
    assert!(left[0].starts_with("10.0.0.2.global"), "{r:?}");
    let r = nomad(&addr, &["server", "force-leave"]);
    assert_eq!(
        (r.code, r.err.as_str()),
        (
            1,
            "This command takes one argument: <node>\nFor additional help try 'nomad server force-leave -help'\n"
        )
    );

    // No agent: the transport error, exit 1.
    let r = nomad("http://127.0.0.1:1", &["server", "join", "10.0.0.2"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.err.starts_with("Error joining: failed joining: "),
        "{r:?}"
    );
}

#[test]
fn raft_list_and_remove_peers() {
    let (cluster, addr) = setup();
    let r = nomad(&addr, &["operator", "raft", "list-peers"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.out,
        "Node                  ID  Address         State   Voter  RaftProtocol\n\
         nomad-rs-test.global  1   127.0.0.1:4647  leader  true   3\n"
    );

    let r = nomad(&addr, &["server", "join", "10.0.0.2", "10.0.0.3"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = nomad(&addr, &["operator", "raft", "list-peers", "-stale"]);
    assert_eq!(r.code, 0, "{r:?}");
    let rows: Vec<Vec<&str>> = r
        .out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "{r:?}");
    assert_eq!(
        rows[0],
        ["Node", "ID", "Address", "State", "Voter", "RaftProtocol"]
    );
    // Sorted by node name; followers are voters too.
    assert_eq!(rows[1][0], "10.0.0.2.global");
    assert_eq!(rows[1][2..], ["10.0.0.2:4647", "follower", "true", "3"]);
    assert_eq!(rows[2][0], "10.0.0.3.global");
    assert_eq!(rows[3][0], "nomad-rs-test.global");
    assert_eq!(rows[3][3], "leader");
    let id3 = rows[2][1].to_string();

    let r = nomad(
        &addr,
        &[
            "operator",
            "raft",
            "remove-peer",
            "-peer-address=10.0.0.2:4647",
        ],
    );
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "Removed peer with address \"10.0.0.2:4647\"\n"),
        "{r:?}"
    );
    let r = nomad(
        &addr,
        &["operator", "raft", "remove-peer", "-peer-id", &id3],
    );
    assert_eq!(
        (r.code, r.out.clone()),
        (0, format!("Removed peer with id \"{id3}\"\n")),
        "{r:?}"
    );
    let r = nomad(&addr, &["operator", "raft", "list-peers"]);
    assert_eq!(r.out.lines().count(), 2, "{r:?}");
    assert_eq!(
        cluster.joined(),
        ["10.0.0.2:4648", "10.0.0.3:4648"],
        "removing a peer leaves gossip alone"
    );

    let r = nomad(&addr, &["operator", "raft", "remove-peer"]);
    assert_eq!(
        (r.code, r.err.as_str()),
        (
            1,
            "Error removing peer: an address or id is required for the peer to remove\n"
        )
    );
    let r = nomad(
        &addr,
        &[
            "operator",
            "raft",
            "remove-peer",
            "-peer-id=1",
            "-peer-address=a:1",
        ],
    );
    assert_eq!(
        (r.code, r.err.as_str()),
        (
            1,
            "Error removing peer: cannot give both an address and id\n"
        )
    );
    let r = nomad(&addr, &["operator", "raft", "remove-peer", "-peer-id=nope"]);
    assert_eq!(
        (r.code, r.err.as_str()),
        (
            1,
            "Error removing peer: Unexpected response code: 500 (id \"nope\" was not found in the Raft configuration)\n"
        )
    );
    let r = nomad("http://127.0.0.1:1", &["operator", "raft", "list-peers"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.err.starts_with("Failed to retrieve raft configuration: "),
        "{r:?}"
    );
}

#[test]
fn snapshot_save_and_restore() {
    let (cluster, addr) = setup();
    cluster.add_node("node-a").expect("node");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("backup.snap");
    let path = file.display().to_string();

    let r = nomad(&addr, &["operator", "snapshot", "save", &path]);
    assert_eq!(
        (r.code, r.out.clone()),
        (0, format!("State file written to {path}\n")),
        "{r:?}"
    );
    let saved = std::fs::read(&file).expect("snapshot file");
    assert!(!saved.is_empty());
    assert!(!dir.path().join("backup.snap.tmp").exists());
    let files = std::fs::read_dir(dir.path()).expect("ls").count();
    assert_eq!(files, 1, "only the snapshot is left behind");

    // -stale (a Go boolean flag) does not take the file name as its value.
    let stale = dir.path().join("stale.snap").display().to_string();
    let r = nomad(&addr, &["operator", "snapshot", "save", "-stale", &stale]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(std::fs::read(&stale).expect("stale snapshot"), saved);
    std::fs::remove_file(&stale).expect("rm");

    // An existing destination is never overwritten.
    let r = nomad(&addr, &["operator", "snapshot", "save", &path]);
    assert_eq!(
        (r.code, r.err.clone()),
        (
            1,
            format!(
                "Destination file already exists: \"{path}\"\nFor additional help try 'nomad operator snapshot save -help'\n"
            )
        )
    );
    assert_eq!(std::fs::read(&file).expect("still there"), saved);
    let r = nomad(&addr, &["operator", "snapshot", "save", "a", "b"]);
    assert_eq!(r.code, 1);
    assert!(
        r.err
            .starts_with("This command takes either no arguments or one: <filename>\n"),
        "{r:?}"
    );

    // The state moves on; restoring brings the saved one back.
    cluster.add_node("node-b").expect("node");
    assert_eq!(cluster.reader().snapshot().nodes().len(), 2);
    let r = nomad(&addr, &["operator", "snapshot", "restore", &path]);
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "Snapshot Restored\n"),
        "{r:?}"
    );
    assert_eq!(cluster.reader().snapshot().nodes().len(), 1);
    let r = nomad(&addr, &["node", "status"]);
    assert!(
        r.out.contains("node-a") && !r.out.contains("node-b"),
        "{r:?}"
    );

    let missing = dir.path().join("missing.snap").display().to_string();
    let r = nomad(&addr, &["operator", "snapshot", "restore", &missing]);
    assert_eq!(
        (r.code, r.err.clone()),
        (
            1,
            format!("Error opening snapshot file: \"open {missing}: no such file or directory\"\n")
        )
    );
    let r = nomad(&addr, &["operator", "snapshot", "restore"]);
    assert_eq!(
        (r.code, r.err.as_str()),
        (
            1,
            "This command takes one argument: <filename>\nFor additional help try 'nomad operator snapshot restore -help'\n"
        )
    );
    let junk = dir.path().join("junk.snap");
    std::fs::write(&junk, b"not a snapshot").expect("write");
    let r = nomad(
        &addr,
        &[
            "operator",
            "snapshot",
            "restore",
            &junk.display().to_string(),
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.err
            .starts_with("Failed to get restore snapshot: Unexpected response code: 400 ("),
        "{r:?}"
    );
    assert_eq!(cluster.reader().snapshot().nodes().len(), 1);

    // A failed download leaves nothing behind.
    let other = dir.path().join("other.snap");
    let r = nomad(
        "http://127.0.0.1:1",
        &["operator", "snapshot", "save", &other.display().to_string()],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.err.starts_with("Failed to get snapshot file: "), "{r:?}");
    assert!(!other.exists());
    assert!(!dir.path().join("other.snap.tmp").exists());
}
