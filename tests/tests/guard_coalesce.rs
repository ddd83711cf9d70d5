//! Identical reads that arrive together share one daemon answer (`GUARD_COALESCE`, on by
//! default), and nothing else does.
//!
//! Proves that: a group of identical reads that arrived while the same read was at the daemon
//! is sent once, after it, and every member gets that answer (with `GUARD_COALESCE=0`, every
//! read reaches the daemon); reads whose forwarded heads differ, reads of a stream, and reads
//! of a content endpoint are never shared; an answer over the share limit (by its length, or
//! chunked, by what was read) goes to its own client only and every member sends its own
//! request; a group whose leader's client leaves
//! while the daemon works still gets its answers, and one whose leader's client does not read
//! gets them at once; members waiting on a read the daemon never answers are let go, and
//! logged, as soon as their clients leave; and, on the real dockerd (its answers held
//! back 30 ms by a relay, so that a list is at the daemon while a container is created), a
//! client that created a container and then lists containers always sees it, however many
//! identical lists are in flight: no answer older than the request is ever given.
//!
//! A shared list is redacted for every member of its group as for its leader. The other tests
//! of sharing run with `GUARD_REDACT=off`, so that their synthetic answers pass as they are.
//!
//! The slow daemon (`e2e::fake`) is used where the order of arrivals must be known; the last
//! test runs against the real dockerd.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use e2e::docker::{require_docker, Cleanup};
use e2e::fake::FakeDaemon;
use e2e::guard::Guard;
use e2e::http::{exchange, parse_responses, RawResponse};
use e2e::table::Req;
use e2e::wait_until;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(10);

/// How long the slow daemon takes: longer than a group waits for the read ahead of it
/// (`WAIT_MAX`, 1 s), so that the members of a group have that whole second to arrive, on a
/// machine busy with other tests too.
const DELAY: Duration = Duration::from_millis(1500);

fn list_body() -> Arc<Vec<u8>> {
    Arc::new(br#"[{"Id":"4f0c","Names":["/web"],"State":"running"}]"#.to_vec())
}

async fn slow_guard(
    dir: &std::path::Path,
    body: Arc<Vec<u8>>,
    env: &[(&str, &str)],
) -> (FakeDaemon, Guard) {
    let daemon = FakeDaemon::answering_after(&dir.join("slow.sock"), DELAY, body);
    let guard = Guard::builder()
        .socket(daemon.path())
        .envs(&[
            ("CONTAINERS", "1"),
            ("ALLOW_LOGS", "1"),
            ("GUARD_REDACT", "off"),
        ])
        .envs(env)
        .start()
        .await;
    (daemon, guard)
}

/// Sends `req` on a new connection and returns the connection, for the answer to be read
/// later (or for the client to leave).
async fn send(addr: SocketAddr, req: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req).await.unwrap();
    s
}

/// Reads one answer from a connection (the request asked to close it).
async fn answer(mut s: TcpStream) -> RawResponse {
    let ex = e2e::http::read_all(&mut s, BOUND).await;
    assert_eq!(ex.responses.len(), 1, "{}", ex.raw_text());
    ex.responses.into_iter().next().unwrap()
}

/// A 200 with the whole of `want` as its body (its length in the message, not its bytes).
fn assert_whole(a: &RawResponse, want: &[u8]) {
    assert_eq!(a.status, 200);
    assert!(
        a.body == want,
        "a whole answer of {} bytes, got {}",
        want.len(),
        a.body.len()
    );
}

/// Waits until the daemon has received `n` requests.
async fn requests_reach(daemon: &FakeDaemon, n: usize) {
    let counts = daemon.counts().clone();
    assert!(
        wait_until(BOUND, || counts.requests() >= n).await,
        "the daemon got {} requests, expected {n}",
        counts.requests()
    );
}

/// Waits until the guard has started `n` groups: the request just sent has taken its place
/// as a group's leader, so the next ones join its group (the guard may read connections in
/// any order).
async fn groups_reach(state: &socket_guard::server::State, n: u64) {
    let coalescer = state.coalescer.as_ref().expect("shared reads are on");
    assert!(
        wait_until(BOUND, || coalescer.groups_started() >= n).await,
        "the guard started {} groups, expected {n}",
        coalescer.groups_started()
    );
}

/// One request at the daemon, then `members` identical ones: how many requests the daemon
/// saw once every answer is in, and the answers.
async fn first_then_group(
    guard: &Guard,
    daemon: &FakeDaemon,
    req: &MakeRequest,
    members: usize,
) -> Vec<RawResponse> {
    let first = send(guard.addr(), &req(0)).await;
    requests_reach(daemon, 1).await;
    let mut group = Vec::new();
    for i in 1..=members {
        group.push(send(guard.addr(), &req(i)).await);
    }
    let mut answers = vec![answer(first).await];
    for s in group {
        answers.push(answer(s).await);
    }
    answers
}

/// Request `i` of a test.
type MakeRequest = dyn Fn(usize) -> Vec<u8>;

fn list(_: usize) -> Vec<u8> {
    Req::new("GET", "/v1.41/containers/json").close().bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_identical_reads_is_sent_once_after_the_one_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, guard) = slow_guard(dir.path(), list_body(), &[]).await;
    let answers = first_then_group(&guard, &daemon, &list, 10).await;
    for a in &answers {
        assert_eq!(a.status, 200);
        assert_eq!(a.body, *list_body());
        assert_eq!(a.header("api-version"), Some("1.41"));
    }
    // The first got the answer to its own request; the ten, the answer to the request sent
    // for them after the first's, never the first's, which was sent before they arrived.
    assert_eq!(answers[0].header("request-number"), Some("1"));
    for a in &answers[1..] {
        assert_eq!(a.header("request-number"), Some("2"));
    }
    // The first request, then one for the ten that arrived while it was at the daemon.
    assert_eq!(daemon.counts().requests(), 2);
    assert_eq!(guard.state().metrics.shared_answers.get(), 9);

    // Control: without coalescing every read reaches the daemon.
    let dir = tempfile::tempdir().unwrap();
    let (daemon, guard) = slow_guard(dir.path(), list_body(), &[("GUARD_COALESCE", "0")]).await;
    let answers = first_then_group(&guard, &daemon, &list, 10).await;
    assert!(answers
        .iter()
        .all(|a| a.status == 200 && a.body == *list_body()));
    assert_eq!(daemon.counts().requests(), 11);
    assert_eq!(guard.state().metrics.shared_answers.get(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_that_differ_stream_or_read_content_are_never_shared() {
    // A path outside the endpoint table that a rule allows, and a listed read (the image
    // list, with IMAGES off) that only a rule allows.
    let rules = [("GUARD_RULES", "GET /custom/.*\nGET /images/json")];
    let cases: [(&str, &MakeRequest); 5] = [
        ("a forwarded header differs", &|i| {
            Req::new("GET", "/v1.41/containers/json")
                .header(&format!("User-Agent: poller-{i}"))
                .close()
                .bytes()
        }),
        ("the query differs", &|i| {
            Req::new("GET", &format!("/v1.41/containers/json?limit={}", i + 1))
                .close()
                .bytes()
        }),
        ("a stream", &|_| {
            Req::new("GET", "/v1.41/events").close().bytes()
        }),
        ("a content read", &|_| {
            Req::new("GET", "/v1.41/containers/web/logs?stdout=1")
                .close()
                .bytes()
        }),
        ("a path outside the endpoint table", &|_| {
            Req::new("GET", "/v1.41/custom/thing").close().bytes()
        }),
    ];
    for (what, req) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (daemon, guard) = slow_guard(dir.path(), list_body(), &rules).await;
        let answers = first_then_group(&guard, &daemon, req, 5).await;
        assert!(
            answers
                .iter()
                .all(|a| a.status == 200 && a.body == *list_body()),
            "{what}: {:?}",
            answers.iter().map(|a| a.status).collect::<Vec<_>>()
        );
        assert_eq!(
            daemon.counts().requests(),
            6,
            "{what}: every read reaches the daemon"
        );
        assert_eq!(guard.state().metrics.shared_answers.get(), 0, "{what}");
    }

    // Control: a listed read is shared whether a section or a rule allows it.
    let dir = tempfile::tempdir().unwrap();
    let (daemon, guard) = slow_guard(dir.path(), list_body(), &rules).await;
    let images = |_| Req::new("GET", "/v1.41/images/json").close().bytes();
    let answers = first_then_group(&guard, &daemon, &images, 5).await;
    assert!(answers.iter().all(|a| a.status == 200));
    assert_eq!(daemon.counts().requests(), 2);
    assert_eq!(guard.state().metrics.shared_answers.get(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_the_share_limit_goes_to_its_own_client_only() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> =
        format!("[\"{}\"]", "x".repeat(socket_guard::coalesce::SHARE_MAX)).into_bytes();
    let big = Arc::new(big);
    let (daemon, guard) = slow_guard(dir.path(), big.clone(), &[]).await;
    let answers = first_then_group(&guard, &daemon, &list, 5).await;
    for a in &answers {
        assert_whole(a, &big);
    }
    // The group's leader could not share its answer: every member sent its own.
    assert_eq!(daemon.counts().requests(), 6);
    assert_eq!(guard.state().metrics.shared_answers.get(), 0);

    // Control: an answer just under the limit is shared.
    let dir = tempfile::tempdir().unwrap();
    let fits = Arc::new(vec![b' '; socket_guard::coalesce::SHARE_MAX]);
    let (daemon, guard) = slow_guard(dir.path(), fits.clone(), &[]).await;
    let answers = first_then_group(&guard, &daemon, &list, 5).await;
    assert!(answers.iter().all(|a| a.status == 200 && a.body == *fits));
    assert_eq!(daemon.counts().requests(), 2);
    assert_eq!(guard.state().metrics.shared_answers.get(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_answer_over_the_share_limit_goes_to_its_own_client_only() {
    // Its last piece arrives in one read that both crosses the limit and ends the answer.
    let split = socket_guard::coalesce::SHARE_MAX - 100;
    let group = |body: Arc<Vec<u8>>| async move {
        let dir = tempfile::tempdir().unwrap();
        let daemon = FakeDaemon::answering_chunked_after(
            &dir.path().join("slow.sock"),
            DELAY,
            body.clone(),
            split,
        );
        let guard = Guard::builder()
            .socket(daemon.path())
            .envs(&[("CONTAINERS", "1"), ("GUARD_REDACT", "off")])
            .start()
            .await;
        let answers = first_then_group(&guard, &daemon, &list, 5).await;
        for a in &answers {
            assert_whole(a, &body);
            assert_eq!(a.header("transfer-encoding"), Some("chunked"));
        }
        (
            daemon.counts().requests(),
            guard.state().metrics.shared_answers.get(),
        )
    };
    assert_eq!(group(Arc::new(vec![b' '; split + 200])).await, (6, 0));

    // Control: the same answer, its last chunk 190 bytes shorter (framed, under the limit),
    // is shared.
    assert_eq!(group(Arc::new(vec![b' '; split + 10])).await, (2, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_leaders_client_leaves_still_gets_its_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, guard) = slow_guard(dir.path(), list_body(), &[]).await;
    let first = send(guard.addr(), &list(0)).await;
    requests_reach(&daemon, 1).await;
    // The second leads the group that gathers behind the first; the others join it.
    let leader = send(guard.addr(), &list(1)).await;
    groups_reach(guard.state(), 2).await;
    let mut members = Vec::new();
    for i in 2..6 {
        members.push(send(guard.addr(), &list(i)).await);
    }
    assert_eq!(answer(first).await.status, 200);
    // The group's request is at the daemon: its leader's client leaves (its FIN reaches the
    // guard as a half-close would, and is passed on: the daemon answers a finite read to a
    // client that half-closed, so the answer still serves the group).
    requests_reach(&daemon, 2).await;
    drop(leader);
    for m in members {
        let a = answer(m).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.body, *list_body());
    }
    assert_eq!(daemon.counts().requests(), 2);
    assert_eq!(guard.state().metrics.shared_answers.get(), 4);
    assert_eq!(guard.state().metrics.upstream_errors.get(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_client_does_not_read_holds_nobody_else() {
    // Over a unix listener, whose socket buffers (unlike loopback TCP's) do not grow to hold
    // a whole answer: the guard's write to a client that does not read stops part-way.
    let dir = tempfile::tempdir().unwrap();
    let big = Arc::new(vec![b' '; socket_guard::coalesce::SHARE_MAX]);
    let daemon = FakeDaemon::answering_after(&dir.path().join("slow.sock"), DELAY, big.clone());
    let listen = dir.path().join("guard.sock");
    let env: std::collections::HashMap<String, String> = [
        ("GUARD_LISTEN", format!("unix://{}", listen.display())),
        ("SOCKET_PATH", daemon.path().display().to_string()),
        ("CONTAINERS", "1".to_owned()),
        ("GUARD_REDACT", "off".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = socket_guard::config::Config::from_env(&env, |_| Err("no file".into())).unwrap();
    let listener =
        socket_guard::listen::bind(&config.listen[0], &config.socket_perms, None).unwrap();
    let listener = (config.listen[0].clone(), listener);
    let state = socket_guard::server::State::new(config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(socket_guard::server::run(
        vec![listener],
        state.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let send = |req: Vec<u8>| {
        let listen = listen.clone();
        async move {
            let mut s = tokio::net::UnixStream::connect(&listen).await.unwrap();
            s.write_all(&req).await.unwrap();
            s
        }
    };
    let answer = |mut s: tokio::net::UnixStream| async move {
        let ex = e2e::http::read_all(&mut s, BOUND).await;
        assert_eq!(ex.responses.len(), 1, "{} bytes read", ex.raw.len());
        ex.responses.into_iter().next().unwrap()
    };

    let first = send(list(0)).await;
    requests_reach(&daemon, 1).await;
    // The next group's leader never reads its answer.
    let stalled = send(list(1)).await;
    groups_reach(&state, 2).await;
    let mut members = Vec::new();
    for i in 2..6 {
        members.push(send(list(i)).await);
    }
    assert_eq!(answer(first).await.body.len(), big.len());
    for m in members {
        let a = answer(m).await;
        assert_whole(&a, &big);
    }
    assert_eq!(daemon.counts().requests(), 2);
    assert_eq!(state.metrics.shared_answers.get(), 4);
    drop(stalled);
    let _ = stop.send(());
    server.abort();
}

/// Sends `req` on a kept connection and reads one answer.
async fn get(s: &mut TcpStream, req: &[u8]) -> RawResponse {
    s.write_all(req).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::time::timeout(BOUND, s.read(&mut buf))
            .await
            .expect("an answer within the bound")
            .unwrap();
        assert!(n > 0, "the guard closed a kept connection");
        raw.extend_from_slice(&buf[..n]);
        let (mut answers, used) = parse_responses(&raw, false);
        if let Some(a) = answers.pop() {
            assert_eq!(used, raw.len(), "one answer, nothing after it");
            return a;
        }
    }
}

fn names(list: &RawResponse) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["Names"].as_array().unwrap().clone())
        .map(|n| n.as_str().unwrap().trim_start_matches('/').to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_after_a_create_always_shows_it_however_many_identical_lists_are_in_flight() {
    require_docker();
    let cleanup = Cleanup::new("coalesce");
    // The daemon's answers reach the guard 30 ms late: a list that was at the daemon when a
    // create finished would, if shared with a later request, miss the new container.
    let dir = tempfile::tempdir().unwrap();
    let slow =
        FakeDaemon::relay_to_real_delayed(&dir.path().join("slow.sock"), Duration::from_millis(30));
    let guard = Guard::builder()
        .socket(slow.path())
        .envs(&[("CONTAINERS", "1"), ("GUARD_REDACT", "off")])
        .start()
        .await;
    let req = Req::new("GET", "/v1.41/containers/json?all=1").bytes();

    // Twelve pollers send the same list as fast as the daemon answers.
    let stop = Arc::new(AtomicBool::new(false));
    let mut pollers = Vec::new();
    for _ in 0..12 {
        let (stop, req, addr) = (stop.clone(), req.clone(), guard.addr());
        pollers.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(get(&mut s, &req).await.status, 200);
                n += 1;
            }
            n
        }));
    }

    let image = e2e::docker::ensure_test_image();
    let mut s = TcpStream::connect(guard.addr()).await.unwrap();
    for i in 0..20 {
        // Created on the real socket, by the API (the docker CLI would add the time it takes
        // to exit between the create and the list, time in which any list sent is new).
        let name = cleanup.name(&format!("c{i}"));
        let create = format!(r#"{{"Image":"{image}","Cmd":["true"]}}"#);
        let target = format!("/v1.41/containers/create?name={name}");
        let created = tokio::task::spawn_blocking(move || {
            e2e::docker::real_api("POST", &target, Some(&create))
        })
        .await
        .unwrap();
        assert_eq!(created.status, 201, "{}", created.text());
        // The daemon answered the create: the next list must show it.
        let listed = get(&mut s, &req).await;
        assert_eq!(listed.status, 200);
        assert!(
            names(&listed).contains(&name),
            "{name} was created before this list was sent, and is not in it"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let mut polled = 0;
    for p in pollers {
        polled += p.await.unwrap();
    }
    assert!(polled > 12, "the pollers kept polling ({polled} lists)");
    // The lists were shared (the guarantee above held while they were).
    let shared = guard.state().metrics.shared_answers.get();
    assert!(shared > 0, "no list was shared among {polled}");

    // And a shared answer is the daemon's answer: one read through the guard and one on the
    // real socket list the same containers.
    let through = exchange(
        guard.addr(),
        &Req::new("GET", "/v1.41/containers/json?all=1")
            .close()
            .bytes(),
    )
    .await;
    let direct = e2e::docker::real_api("GET", "/v1.41/containers/json?all=1", None);
    let mut a = names(&through.responses[0]);
    let mut b = names(&direct);
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_waiting_on_a_hung_read_are_let_go_when_their_clients_leave() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = FakeDaemon::hanging(&dir.path().join("hung.sock"));
    let guard = Guard::builder()
        .socket(daemon.path())
        .envs(&[("CONTAINERS", "1"), ("GUARD_REDACT", "off")])
        .start()
        .await;
    let req = Req::new("GET", "/v1.41/containers/json").bytes();
    let first = send(guard.addr(), &req).await;
    requests_reach(&daemon, 1).await;
    // The next group: its leader sends after waiting for the hung read at most WAIT_MAX.
    let leader = send(guard.addr(), &req).await;
    groups_reach(guard.state(), 2).await;
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(send(guard.addr(), &req).await);
    }
    requests_reach(&daemon, 2).await;

    // The members' clients leave while both reads hang: each is let go and logged within the
    // half-closed wait (5 s: a FIN may be a half-close, which the daemon would answer).
    // (On a busy machine a member may arrive after its leader's read was sent and lead a group
    // of its own: whatever it was doing, its client leaving ends it.)
    let left = || guard.requests_counted("allow", "CONTAINERS", 0);
    drop(members);
    assert!(
        wait_until(BOUND, || left() == 3).await,
        "{} of 3 members whose clients left were let go",
        left()
    );
    let counts = daemon.counts().clone();
    assert!(
        wait_until(BOUND, || counts.requests() - counts.closed() == 2).await,
        "the first two reads are still at the daemon, and nothing else is: {} requests, {} closed",
        counts.requests(),
        counts.closed()
    );

    // Then the two that reached the daemon first: their daemon connections close.
    drop(first);
    drop(leader);
    assert!(
        wait_until(BOUND, || counts.closed() == counts.requests()).await,
        "{} of {} daemon connections closed",
        counts.closed(),
        counts.requests()
    );
    assert!(
        wait_until(BOUND, || left() == 5).await,
        "{} of 5 logged",
        left()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_answer_is_redacted_for_every_member() {
    let secret = "sharedsecret-in-a-command";
    let body = Arc::new(
        format!(
            r#"[{{"Id":"4f0c","Names":["/web"],"Command":"sh -c {secret}","State":"running"}}]"#
        )
        .into_bytes(),
    );
    let dir = tempfile::tempdir().unwrap();
    let daemon = FakeDaemon::answering_after(&dir.path().join("slow.sock"), DELAY, body);
    let guard = Guard::builder()
        .socket(daemon.path())
        .env("CONTAINERS", "1")
        .start()
        .await;
    let answers = first_then_group(&guard, &daemon, &list, 4).await;
    assert!(
        guard.state().metrics.shared_answers.get() > 0,
        "nothing was shared"
    );
    for a in &answers {
        let text = a.text();
        assert_eq!(a.status, 200, "{text}");
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains(r#""Command":"[redacted]""#), "{text}");
        assert!(text.contains(r#""Names":["/web"]"#), "{text}");
        assert_eq!(
            a.header("content-length").map(str::parse::<usize>),
            Some(Ok(a.body.len()))
        );
    }
}
