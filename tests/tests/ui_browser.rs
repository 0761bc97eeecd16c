//! The web UI in a real browser: Debian's chromium, headless, driven through
//! chromedriver (WebDriver) against `nomad agent -dev`.
//!
//! One scenario, as a user would go through it: the jobs list is open when a
//! job is run and shows it without a reload; clicking the job shows its
//! allocations; the allocation page streams a line the task printed after
//! the page opened, and shows its resource usage refreshing by itself (or
//! says it is unavailable when the agent has no stats routes); every page
//! (jobs, job, allocation, clients, client, servers, topology, evaluations)
//! renders without an error banner or a browser console error; stopping the
//! job from its page stops it (checked through the HTTP API) and the page
//! says so without a reload.
//!
//! Without chromium or chromedriver the test prints loudly that it skipped;
//! with `CI=true` it fails instead (`.ci/run` installs both).
//!
//! `UI_SCREENSHOTS=1` also saves PNGs of the main pages to `docs/ui/` (the
//! README shows them), with a second job so the pictures have more in them:
//!
//! ```sh
//! UI_SCREENSHOTS=1 cargo nextest run -p nomad-e2e --test ui_browser
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use nomad_api_client::{Client as Api, Config, QueryOptions};
use nomad_e2e::{free_port, nomad_at, DevAgent};
use serde_json::{json, Value};

/// Longest wait for anything the page should show.
const TIMEOUT: Duration = Duration::from_secs(30);
const JOB: &str = "ui-e2e";
const TEST: &str = "ui_browser::the_web_ui_works_in_a_real_browser";

// ---- skipping ----

fn stderr_line(msg: &str) {
    // Straight to fd 2, past the test harness's output capture.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/stderr")
        .and_then(|mut f| f.write_all(msg.as_bytes()));
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Chromium and chromedriver, or None (printed loudly) when either is
/// missing; under `CI=true` a missing one fails the test.
fn browser_or_skip() -> Option<(PathBuf, PathBuf)> {
    let chrome = on_path(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = on_path(&["chromedriver"]);
    if let (Some(c), Some(d)) = (&chrome, &driver) {
        return Some((c.clone(), d.clone()));
    }
    let missing = [
        ("chromium", chrome.is_none()),
        ("chromedriver", driver.is_none()),
    ]
    .iter()
    .filter(|(_, m)| *m)
    .map(|(n, _)| *n)
    .collect::<Vec<_>>()
    .join(" and ");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{TEST} needs {missing} (apt-get install chromium chromium-driver), and CI=true requires it to run"
        );
    }
    stderr_line(&format!(
        "\n*** SKIPPED {TEST}: {missing} not installed (apt-get install chromium chromium-driver) ***\n"
    ));
    None
}

// ---- chromedriver and the browser ----

/// A chromedriver on a free port; terminated when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(bin: &Path, dir: &Path) -> Driver {
        let port = free_port();
        let log = std::fs::File::create(dir.join("chromedriver.log")).expect("chromedriver log");
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}: {}",
                std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SIGTERM lets chromedriver take its browsers down with it.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn open_browser(driver: &Driver, chrome: &Path, profile: &Path) -> Client {
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chrome,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                "--window-size=1280,860",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
        // The console (console.error, uncaught exceptions, failed loads).
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let Value::Object(caps) = caps else {
        unreachable!("a JSON object")
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("open a chromium session through chromedriver")
}

/// chromedriver's browser console log since the last read (the `/se/log`
/// extension; each read drains it).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(r#"{"type":"browser"}"#.to_string()),
        )
    }
}

/// Fails with the console errors logged since the last check. Failed
/// requests to the resource-usage routes are expected: the UI says
/// "unavailable" when the agent does not serve them.
async fn assert_no_console_errors(b: &Client, page: &str) {
    let entries = b.issue_cmd(BrowserLog).await.expect("read the browser log");
    let errors: Vec<String> = entries
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] == "SEVERE")
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .filter(|m| !is_optional_stats_request(m))
        .collect();
    assert!(
        errors.is_empty(),
        "console errors on the {page} page:\n  {}",
        errors.join("\n  ")
    );
}

fn is_optional_stats_request(message: &str) -> bool {
    let url = message.split_whitespace().next().unwrap_or_default();
    let path = url.split('?').next().unwrap_or_default();
    path.ends_with("/v1/client/stats")
        || (path.contains("/v1/client/allocation/") && path.ends_with("/stats"))
}

/// Polls `f` until it yields a value; fails with `what` after `TIMEOUT`.
async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The visible text of the page's main view.
async fn view_text(b: &Client) -> String {
    b.execute(
        "const v = document.getElementById('view'); return v ? v.innerText : '';",
        vec![],
    )
    .await
    .ok()
    .and_then(|v| v.as_str().map(str::to_string))
    .unwrap_or_default()
}

/// Waits until the main view shows every one of `texts`; returns its text.
async fn wait_for_text(b: &Client, page: &str, texts: &[&str]) -> String {
    let what = format!("{texts:?} on the {page} page");
    eventually(&what, async || {
        let t = view_text(b).await;
        texts.iter().all(|x| t.contains(x)).then_some(t)
    })
    .await
}

/// Waits until the main view holds an element matching `css`.
async fn wait_for_css(b: &Client, page: &str, css: &str) {
    b.wait()
        .at_most(TIMEOUT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the {page} page: {e}"));
}

/// Clicks the element matching `css` once it is there. Views redraw on
/// every update, so an element found a moment ago may have been replaced:
/// the lookup is repeated until a click lands.
async fn click(b: &Client, page: &str, css: &str) {
    let what = format!("a click on {css} on the {page} page");
    eventually(&what, async || {
        let el = b.find(Locator::Css(css)).await.ok()?;
        el.click().await.ok()
    })
    .await
}

/// Opens `path` with a full page load.
async fn goto(b: &Client, base: &str, path: &str) {
    b.goto(&format!("{base}{path}"))
        .await
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
}

async fn current_path(b: &Client) -> String {
    b.current_url()
        .await
        .map(|u| u.path().to_string())
        .unwrap_or_default()
}

/// Saves a PNG of the window to `docs/ui/<name>.png` when asked to.
async fn screenshot(b: &Client, name: &str) {
    if std::env::var("UI_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    // The whole page, not only the window: the window grows to the page's
    // height (within reason) for the picture.
    let height = b
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(860)
        .clamp(600, 1600) as u32;
    let (width, old_height) = b
        .get_window_size()
        .await
        .map(|(w, h)| (w as u32, h as u32))
        .unwrap_or((1280, 860));
    b.set_window_size(
        width,
        height + (old_height.saturating_sub(viewport_height(b).await)),
    )
    .await
    .expect("resize the window");
    let png = b.screenshot().await.expect("screenshot");
    b.set_window_size(width, old_height)
        .await
        .expect("restore the window");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ui");
    std::fs::create_dir_all(&dir).expect("docs/ui");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, &png).expect("write screenshot");
    eprintln!("saved {} ({} KB)", path.display(), png.len() / 1024);
}

async fn viewport_height(b: &Client) -> u32 {
    b.execute("return window.innerHeight;", vec![])
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(0) as u32
}

/// The heading of the usage figures (with their time), if shown.
async fn usage_heading(b: &Client) -> Option<String> {
    let script = "for (const e of document.querySelectorAll('#view h3')) { \
                  if (/^(Usage|Used) \\(live/.test(e.textContent)) return e.textContent; } \
                  return null;";
    b.execute(script, vec![])
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
}

/// Waits for the usage heading starting with `prefix`; returns it.
async fn wait_for_usage_heading(b: &Client, page: &str, prefix: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(h) = usage_heading(b).await.filter(|h| h.starts_with(prefix)) {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {prefix:?} on the {page} page, which shows:\n{}",
            view_text(b).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- the cluster ----

fn job_hcl(name: &str, count: u32, command: &str, args: &[&str]) -> String {
    let args = args
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"
job "{name}" {{
  datacenters = ["dc1"]
  type        = "service"
  group "web" {{
    count = {count}
    task "feed" {{
      driver = "raw_exec"
      config {{
        command = "{command}"
        args    = [{args}]
      }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}
"#
    )
}

async fn api_get(api: &Api, path: &str) -> Option<Value> {
    api.get::<Value>(path, &QueryOptions::default())
        .await
        .ok()
        .map(|(v, _)| v)
}

/// Whether the agent answers `path` (a stats route) with figures: true
/// once it does, false once it says the route does not exist; other
/// errors (the stats are not collected yet) are waited out.
async fn serves(api: &Api, path: &str) -> bool {
    eventually(&format!("an answer from {path}"), async || {
        match api.get::<Value>(path, &QueryOptions::default()).await {
            Ok(_) => Some(true),
            Err(nomad_api_client::Error::Status { code: 404, body })
                if body.contains("page not found") =>
            {
                Some(false)
            }
            Err(_) => None,
        }
    })
    .await
}

/// IDs of the job's allocations that are running.
async fn running_allocs(api: &Api, job: &str) -> Vec<String> {
    let allocs = api_get(api, &format!("/v1/job/{job}/allocations"))
        .await
        .unwrap_or(Value::Null);
    allocs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["ClientStatus"] == "running" && a["DesiredStatus"] == "run")
        .filter_map(|a| a["ID"].as_str().map(str::to_string))
        .collect()
}

fn run_job(dir: &Path, agent: &DevAgent, file: &str, hcl: &str) {
    std::fs::write(dir.join(file), hcl).expect("job file");
    let run = nomad_at(dir, &agent.addr, &["job", "run", "-detach", file]);
    assert_eq!(run.code, 0, "job run {file}: {run:?}\n{}", agent.logs());
}

// ---- the scenario ----

#[test]
fn the_web_ui_works_in_a_real_browser() {
    let Some((chrome, chromedriver)) = browser_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    let agent = DevAgent::start(&d);
    let driver = Driver::start(&chromedriver, &d);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let browser = rt.block_on(open_browser(&driver, &chrome, &d.join("chrome-profile")));
    // A failed assertion still closes the browser session (and so the
    // browser) before the panic is passed on.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(scenario(browser.clone(), agent, d))
    }));
    let _ = rt.block_on(browser.close());
    drop(driver);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn scenario(b: Client, agent: DevAgent, d: PathBuf) {
    let base = agent.addr.clone();
    let api = Api::new(Config {
        address: base.clone(),
        ..Config::default()
    })
    .expect("API client");
    let shots = std::env::var("UI_SCREENSHOTS").as_deref() == Ok("1");

    let node: Value = eventually("a ready node", async || {
        let nodes = api_get(&api, "/v1/nodes").await?;
        nodes
            .as_array()?
            .iter()
            .find(|n| n["Status"] == "ready")
            .cloned()
    })
    .await;
    let node_id = node["ID"].as_str().expect("node ID").to_string();
    let node_name = node["Name"].as_str().expect("node name").to_string();

    // The jobs list is open before the job exists, and shows it once run
    // (a blocking query, no reload).
    goto(&b, &base, "/ui/jobs").await;
    wait_for_text(&b, "jobs", &["Jobs", "No jobs yet"]).await;
    assert_no_console_errors(&b, "empty jobs").await;
    // A mark on this document: still there later means no page reload.
    b.execute("window.__uiTestLoaded = true; return null;", vec![])
        .await
        .expect("mark the page");

    // Each allocation's task follows a file this test appends to, so its
    // log gets a line exactly when the test says. Tasks outlive an agent
    // that stops (as in Nomad), so they also end with this test process,
    // whatever happens to the test (`tail --pid`).
    let feed = d.join("feed.txt");
    std::fs::write(&feed, "ui-e2e started\n").expect("feed file");
    let feed_arg = feed.to_string_lossy().into_owned();
    let until_test_ends = format!("--pid={}", std::process::id());
    run_job(
        &d,
        &agent,
        "ui-e2e.nomad.hcl",
        &job_hcl(
            JOB,
            2,
            "/usr/bin/tail",
            &[&until_test_ends, "-n", "+1", "-F", &feed_arg],
        ),
    );
    if shots {
        run_job(
            &d,
            &agent,
            "cache.nomad.hcl",
            &job_hcl(
                "cache",
                3,
                "/usr/bin/tail",
                &[&until_test_ends, "-f", "/dev/null"],
            ),
        );
        eventually("the second job's allocations running", async || {
            (running_allocs(&api, "cache").await.len() == 3).then_some(())
        })
        .await;
    }
    let allocs = eventually("two running allocations (API)", async || {
        let ids = running_allocs(&api, JOB).await;
        (ids.len() == 2).then_some(ids)
    })
    .await;
    wait_for_css(&b, "jobs", &format!("#view a[href='/ui/jobs/{JOB}']")).await;
    eventually("the job listed as running", async || {
        let t = view_text(&b).await;
        t.lines()
            .any(|l| l.contains(JOB) && l.contains("running"))
            .then_some(())
    })
    .await;
    // The allocation bar shows both running.
    wait_for_css(
        &b,
        "jobs",
        &format!("#view tr:has(a[href='/ui/jobs/{JOB}']) .seg.a-running[title='Running: 2']"),
    )
    .await;
    assert_no_console_errors(&b, "jobs").await;
    screenshot(&b, "jobs").await;

    // Clicking the job shows its allocations (client-side navigation).
    click(&b, "jobs", &format!("#view a[href='/ui/jobs/{JOB}']")).await;
    eventually("the job page's address", async || {
        (current_path(&b).await == format!("/ui/jobs/{JOB}")).then_some(())
    })
    .await;
    for id in &allocs {
        wait_for_css(&b, "job", &format!("#view a[href='/ui/allocations/{id}']")).await;
    }
    wait_for_text(&b, "job", &[JOB, "Allocations", "running", &allocs[0][..8]]).await;
    assert_no_console_errors(&b, "job").await;
    screenshot(&b, "job").await;

    // Its first allocation: the log panel follows the task's stdout.
    let alloc = &allocs[0];
    click(
        &b,
        "job",
        &format!("#view a[href='/ui/allocations/{alloc}']"),
    )
    .await;
    let log_text = async || {
        b.execute(
            "const l = document.querySelector('#view pre.logs'); return l ? l.textContent : null;",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
    };
    eventually("the task's first line in the log panel", async || {
        log_text().await.filter(|t| t.contains("ui-e2e started"))
    })
    .await;
    let later = "hello from the task, after the page opened".to_string();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&feed)
        .expect("feed file");
    writeln!(f, "{later}").expect("append to the feed");
    drop(f);
    eventually("the new log line streamed into the page", async || {
        log_text().await.filter(|t| t.contains(&later))
    })
    .await;
    // Resource usage: live figures where the agent serves them, else a
    // plain "unavailable" (never stuck on "Reading…").
    let alloc_stats = format!("/v1/client/allocation/{alloc}/stats");
    if serves(&api, &alloc_stats).await {
        let first = wait_for_usage_heading(&b, "allocation", "Usage (live, updated").await;
        wait_for_text(&b, "allocation", &["feed", "MHz", "MiB"]).await;
        eventually("the usage figures to refresh by themselves", async || {
            let now = usage_heading(&b).await?;
            (now != first).then_some(())
        })
        .await;
    } else {
        wait_for_text(&b, "allocation", &["Resource usage is unavailable"]).await;
    }
    wait_for_text(&b, "allocation", &["Tasks", "feed", "running"]).await;
    let same_document = b
        .execute("return window.__uiTestLoaded === true;", vec![])
        .await
        .expect("read the mark");
    assert_eq!(
        same_document,
        Value::Bool(true),
        "the page was reloaded between the jobs list and the allocation"
    );
    assert_no_console_errors(&b, "allocation").await;
    screenshot(&b, "allocation").await;

    // Every page with a full load, each without console errors.
    let pages: [(&str, String, Vec<&str>); 8] = [
        ("jobs", "/ui/jobs".into(), vec![JOB, "running"]),
        ("job", format!("/ui/jobs/{JOB}"), vec![JOB, &allocs[1][..8]]),
        (
            "allocation",
            format!("/ui/allocations/{alloc}"),
            vec!["Tasks", "feed", "ui-e2e started"],
        ),
        (
            "clients",
            "/ui/clients".into(),
            vec![node_name.as_str(), "ready"],
        ),
        (
            "client",
            format!("/ui/clients/{node_id}"),
            vec![node_name.as_str(), "Drivers", "raw_exec", &allocs[0][..8]],
        ),
        (
            "servers",
            "/ui/servers".into(),
            vec!["Members (1)", "leader", "alive"],
        ),
        (
            "topology",
            "/ui/topology".into(),
            vec![node_name.as_str(), "Datacenter dc1", JOB],
        ),
        (
            "evaluations",
            "/ui/evaluations".into(),
            vec![JOB, "complete"],
        ),
    ];
    for (page, path, texts) in &pages {
        goto(&b, &base, path).await;
        wait_for_text(&b, page, texts).await;
        // The last thing these pages fetch: resource usage (or its absence).
        if *page == "allocation" {
            if serves(&api, &alloc_stats).await {
                wait_for_usage_heading(&b, page, "Usage (live, updated").await;
            } else {
                wait_for_text(&b, page, &["Resource usage is unavailable"]).await;
            }
        }
        if *page == "client" {
            if serves(&api, &format!("/v1/client/stats?node_id={node_id}")).await {
                wait_for_usage_heading(&b, page, "Used (live, host-wide").await;
                wait_for_text(&b, page, &["Used", "MHz", "GiB"]).await;
            } else {
                wait_for_text(&b, page, &["Host usage is unavailable"]).await;
            }
        }
        assert!(
            b.find_all(Locator::Css("#view .error"))
                .await
                .map(|v| v.is_empty())
                .unwrap_or(false),
            "error banner on the {page} page:\n{}",
            view_text(&b).await
        );
        assert_no_console_errors(&b, page).await;
        match *page {
            "clients" => screenshot(&b, "clients").await,
            "client" => screenshot(&b, "client").await,
            "topology" => screenshot(&b, "topology").await,
            _ => {}
        }
    }

    // Stop the job from its page: the dialog's button, then the API agrees.
    goto(&b, &base, &format!("/ui/jobs/{JOB}")).await;
    wait_for_text(&b, "job", &[JOB, &allocs[0][..8]]).await;
    click(&b, "job", ".page-actions button.btn-danger").await;
    click(&b, "job", "dialog[open] button[type=submit]").await;
    eventually("the job stopped (API)", async || {
        let job = api_get(&api, &format!("/v1/job/{JOB}")).await?;
        (job["Stop"] == true).then_some(())
    })
    .await;
    eventually("its allocations complete (API)", async || {
        let allocs = api_get(&api, &format!("/v1/job/{JOB}/allocations")).await?;
        let list = allocs.as_array()?;
        (!list.is_empty()
            && list
                .iter()
                .all(|a| a["DesiredStatus"] == "stop" && a["ClientStatus"] == "complete"))
        .then_some(())
    })
    .await;
    // The page says so without a reload: the Start button replaces Stop.
    eventually("the job page showing the job stopped", async || {
        let t = view_text(&b).await;
        (t.contains("stopped") && t.contains("Start") && t.contains("dead")).then_some(())
    })
    .await;
    assert_no_console_errors(&b, "stopped job").await;
    drop(agent);
}
