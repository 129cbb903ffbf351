//! Several real `vodstack serve` processes sharing one metadata database run every job
//! exactly once, and jobs of a node killed with SIGKILL mid-job are completed by another node
//! (or by the restarted node) once their lease expires — none lost, none run twice at once.
//!
//! The work is the diagnostics job kind `probe.append` (`VODSTACK_JOBS__ENABLE_PROBE=true`),
//! enqueued with `vodstack jobs enqueue-probe`; each attempt appends
//! `<job id> <worker id> start <unix ms>` to a shared file, sleeps, then appends
//! `<job id> <worker id> end <unix ms>`. Every scenario runs on one shared SQLite file and
//! on a fresh PostgreSQL schema from `VODSTACK_TEST_DATABASE_URL` (skipped loudly when unset,
//! a failure under `CI=true`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod support;

use support::{Node, cli, now_ms};

const ROOT_KEY: (&str, &str) = ("LTAIjobsnodestest01", "jobs-nodes-test-secret-0123456789");

/// A `vodstack` command with a clean environment on `db_url` and the probe job kind on.
fn command(db_url: &str, dir: &Path) -> Command {
    let mut cmd = support::command(db_url, dir, ROOT_KEY);
    cmd.env("VODSTACK_JOBS__ENABLE_PROBE", "true");
    cmd
}

/// Starts node `name` (its worker id) and waits until it reports its job workers.
fn start_node(name: &str, db_url: &str, root: &Path, lease_secs: u64) -> Node {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join(format!("serve-{}.log", now_ms()));
    let mut cmd = command(db_url, &dir);
    cmd.arg("serve")
        .env("VODSTACK_API_ADDR", "127.0.0.1:0")
        .env("VODSTACK_JOBS__WORKER_ID", name)
        .env("VODSTACK_JOBS__LEASE_SECS", lease_secs.to_string())
        .env("VODSTACK_JOBS__POLL_MS", "100")
        .env("VODSTACK_JOBS__SHUTDOWN_GRACE_SECS", "2");
    Node::start(name, cmd, log, &[&format!("worker {name} running"), "probe.append"])
}

fn enqueue_probes(db_url: &str, root: &Path, file: &Path, count: u32, ms: u64) -> Vec<String> {
    let out = cli(
        command(db_url, root),
        &[
            "jobs",
            "enqueue-probe",
            "--file",
            &file.display().to_string(),
            "--count",
            &count.to_string(),
            "--ms",
            &ms.to_string(),
        ],
    );
    let ids: Vec<String> = out["Ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), count as usize);
    ids
}

/// One line of the probe file.
#[derive(Debug, Clone)]
struct Line {
    job: String,
    worker: String,
    end: bool,
    at: i64,
}

fn read_lines(file: &Path) -> Vec<Line> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 4, "malformed probe line {l:?}");
            assert!(f[2] == "start" || f[2] == "end", "{l:?}");
            Line {
                job: f[0].to_string(),
                worker: f[1].to_string(),
                end: f[2] == "end",
                at: f[3].parse().unwrap(),
            }
        })
        .collect()
}

/// Waits until `pred(lines)` holds.
fn wait_lines(file: &Path, what: &str, limit: Duration, pred: impl Fn(&[Line]) -> bool) -> Vec<Line> {
    let deadline = Instant::now() + limit;
    loop {
        let lines = read_lines(file);
        if pred(&lines) {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; file has {} lines",
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ends(lines: &[Line]) -> usize {
    lines.iter().filter(|l| l.end).count()
}

/// Every job of `ids` has exactly one end line, no line names another job, every attempt
/// that ended was by the worker that started it, and the attempts of one job never overlap
/// in time. Attempts of `killed` workers that never ended are taken to have lasted until
/// `killed_at`.
fn check_exactly_once(lines: &[Line], ids: &[String], killed: &[(&str, i64)]) {
    let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let mut per_job: BTreeMap<&str, Vec<&Line>> = BTreeMap::new();
    for l in lines {
        assert!(wanted.contains(l.job.as_str()), "unknown job in {l:?}");
        per_job.entry(&l.job).or_default().push(l);
    }
    for id in ids {
        let job_lines = per_job.get(id.as_str()).unwrap_or_else(|| panic!("job {id} never ran"));
        let end_count = job_lines.iter().filter(|l| l.end).count();
        assert_eq!(end_count, 1, "job {id} completed {end_count} times: {job_lines:?}");
        // Pair each start with the end of the same worker after it (one attempt per worker
        // and job at most here), or with the worker's death.
        let mut intervals = Vec::new();
        for start in job_lines.iter().filter(|l| !l.end) {
            let stop = job_lines
                .iter()
                .find(|l| l.end && l.worker == start.worker && l.at >= start.at)
                .map(|l| l.at)
                .or_else(|| killed.iter().find(|(w, _)| *w == start.worker).map(|(_, t)| *t))
                .unwrap_or_else(|| panic!("job {id}: attempt {start:?} neither ended nor was killed"));
            intervals.push((start.at, stop, start.worker.as_str()));
        }
        intervals.sort();
        for pair in intervals.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "job {id} ran twice at the same time: {:?} and {:?}",
                pair[0],
                pair[1]
            );
        }
    }
}

/// Every job of `ids` succeeded, according to `vodstack jobs list`; returns attempts per job.
fn check_db(db_url: &str, root: &Path, ids: &[String]) -> BTreeMap<String, i64> {
    // A probe writes its end line just before its worker records the outcome: wait (bounded)
    // until no job is queued or running any more, then check.
    let deadline = Instant::now() + Duration::from_secs(10);
    let list = loop {
        let list = cli(
            command(db_url, root),
            &["jobs", "list", "--kind", "probe.append", "--limit", "1000"],
        );
        let pending = list
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["Status"] == "queued" || j["Status"] == "running");
        if !pending || Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut attempts = BTreeMap::new();
    for job in list.as_array().unwrap() {
        assert_eq!(job["Status"], "succeeded", "{job}");
        attempts.insert(
            job["Id"].as_str().unwrap().to_string(),
            job["Attempts"].as_i64().unwrap(),
        );
    }
    let listed: BTreeSet<&String> = attempts.keys().collect();
    assert_eq!(listed, ids.iter().collect::<BTreeSet<_>>());
    attempts
}

/// Two nodes, 100 short jobs: each runs exactly once and both nodes take part.
fn two_nodes_run_every_job_once(db_url: &str, root: &Path) {
    let file = root.join("probe.log");
    // The first node migrates the database; the second starts on a migrated one.
    let a = start_node("node-a", db_url, root, 30);
    let b = start_node("node-b", db_url, root, 30);
    let ids = enqueue_probes(db_url, root, &file, 100, 100);
    let lines = wait_lines(&file, "100 completed jobs", Duration::from_secs(40), |l| ends(l) >= 100);
    check_exactly_once(&lines, &ids, &[]);
    assert_eq!(lines.len(), 200, "one start and one end line per job");
    let by_worker: BTreeMap<&str, usize> = lines.iter().filter(|l| l.end).fold(BTreeMap::new(), |mut m, l| {
        *m.entry(l.worker.as_str()).or_default() += 1;
        m
    });
    assert_eq!(
        by_worker.keys().copied().collect::<Vec<_>>(),
        ["node-a", "node-b"],
        "{by_worker:?}"
    );
    let attempts = check_db(db_url, root, &ids);
    assert!(attempts.values().all(|&n| n == 1), "{attempts:?}");
    a.stop();
    b.stop();
}

/// Node A is SIGKILLed while it runs four long jobs; node B finishes its own four and then,
/// once A's leases expired, A's four.
fn killed_node_jobs_move_to_another_node(db_url: &str, root: &Path) {
    let file = root.join("probe.log");
    let lease_secs = 2;
    let a = start_node("node-a", db_url, root, lease_secs);
    let ids = enqueue_probes(db_url, root, &file, 8, 4_000);
    wait_lines(&file, "node-a to start 4 jobs", Duration::from_secs(10), |l| {
        l.iter().filter(|l| l.worker == "node-a").count() >= 4
    });
    let b = start_node("node-b", db_url, root, lease_secs);
    let before_kill = wait_lines(&file, "node-b to start 4 jobs", Duration::from_secs(10), |l| {
        l.iter().filter(|l| l.worker == "node-b").count() >= 4
    });
    assert_eq!(
        ends(&before_kill),
        0,
        "jobs finished before the kill; the test proves nothing"
    );
    let killed_at = a.kill9();
    let a_jobs: BTreeSet<String> = before_kill
        .iter()
        .filter(|l| l.worker == "node-a")
        .map(|l| l.job.clone())
        .collect();
    assert_eq!(a_jobs.len(), 4);

    let lines = wait_lines(&file, "all 8 jobs to complete", Duration::from_secs(30), |l| {
        ends(l) >= 8
    });
    check_exactly_once(&lines, &ids, &[("node-a", killed_at)]);
    for l in lines
        .iter()
        .filter(|l| a_jobs.contains(&l.job) && l.worker == "node-b" && !l.end)
    {
        let a_start = before_kill.iter().find(|s| s.job == l.job).unwrap().at;
        assert!(
            // The probe writes its start line a moment after the claim: allow 200 ms.
            l.at >= a_start + (lease_secs as i64) * 1000 - 200,
            "node-b took {} before node-a's lease could have expired",
            l.job
        );
        assert!(
            l.at >= killed_at - 50,
            "node-b started {} while node-a was alive",
            l.job
        );
    }
    assert!(lines.iter().filter(|l| l.end).all(|l| l.worker == "node-b"));
    let attempts = check_db(db_url, root, &ids);
    for (id, n) in &attempts {
        let expected = if a_jobs.contains(id) { 2 } else { 1 };
        assert_eq!(*n, expected, "attempts of {id}");
    }
    b.stop();
}

/// The only node is SIGKILLed mid-job and restarted: it reclaims its own jobs after the
/// lease expires and completes them.
fn killed_node_finishes_after_restart(db_url: &str, root: &Path) {
    let file = root.join("probe.log");
    let a = start_node("node-a", db_url, root, 2);
    let ids = enqueue_probes(db_url, root, &file, 3, 2_000);
    let started = wait_lines(&file, "3 starts", Duration::from_secs(10), |l| l.len() >= 3);
    assert_eq!(ends(&started), 0);
    let killed_at = a.kill9();
    let restarted = start_node("node-a", db_url, root, 2);
    let lines = wait_lines(&file, "3 completed jobs", Duration::from_secs(25), |l| ends(l) >= 3);
    // Before the kill and after the restart the worker id is the same; tell the attempts
    // apart by time.
    let renamed: Vec<Line> = lines
        .into_iter()
        .map(|mut l| {
            if l.at < killed_at {
                l.worker = "node-a (killed)".into();
            }
            l
        })
        .collect();
    check_exactly_once(&renamed, &ids, &[("node-a (killed)", killed_at)]);
    let attempts = check_db(db_url, root, &ids);
    assert!(attempts.values().all(|&n| n == 2), "{attempts:?}");
    restarted.stop();
}

fn on_sqlite(scenario: fn(&str, &Path)) {
    let root = tempfile::Builder::new().prefix("vodjobs-").tempdir().unwrap();
    let url = format!("sqlite://{}", root.path().join("shared.db").display());
    scenario(&url, root.path());
}

fn on_postgres(test: &str, scenario: fn(&str, &Path)) {
    let Some(base) = vod_db::testing::postgres_test_url(test) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let schema = rt.block_on(vod_db::testing::PgTestSchema::create(&base)).unwrap();
    let root = tempfile::Builder::new().prefix("vodjobs-").tempdir().unwrap();
    let url = schema.url().to_string();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&url, root.path())));
    rt.block_on(schema.drop_schema()).unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn sqlite_two_nodes_run_every_job_once() {
    on_sqlite(two_nodes_run_every_job_once);
}

#[test]
fn postgres_two_nodes_run_every_job_once() {
    on_postgres(
        "jobs_nodes::postgres_two_nodes_run_every_job_once",
        two_nodes_run_every_job_once,
    );
}

#[test]
fn sqlite_killed_node_jobs_move_to_another_node() {
    on_sqlite(killed_node_jobs_move_to_another_node);
}

#[test]
fn postgres_killed_node_jobs_move_to_another_node() {
    on_postgres(
        "jobs_nodes::postgres_killed_node_jobs_move_to_another_node",
        killed_node_jobs_move_to_another_node,
    );
}

#[test]
fn sqlite_killed_node_finishes_after_restart() {
    on_sqlite(killed_node_finishes_after_restart);
}

#[test]
fn postgres_killed_node_finishes_after_restart() {
    on_postgres(
        "jobs_nodes::postgres_killed_node_finishes_after_restart",
        killed_node_finishes_after_restart,
    );
}
