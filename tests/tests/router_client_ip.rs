//! Who the client is, end to end (labels through socket-guard): `ipallowlist.ipstrategy.depth`
//! reads `X-Forwarded-For` only where the entry point trusts the sender
//! (`forwardedHeaders.trustedIPs`): behind a trusted proxy the forwarded address decides; from
//! an untrusted client a forged one is gone before the check, so it is refused. `ratelimit`
//! with `sourcecriterion.requestheadername` and a `period` counts per header value;
//! `inflightreq` refuses (429) while its place is held and frees it when the answer ends.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::router::{router_guard, run_whoami, unique, Labels, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_strategy_and_source_criterion() {
    require_docker();
    let c = Cleanup::new("rt-cip");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .flags(&[
            "--providers.docker=true",
            "--entrypoints.edge.address=127.0.0.1:0",
            "--entrypoints.edge.forwardedheaders.trustedips=127.0.0.1/32",
        ])
        .start(&guard)
        .await;
    let [allow, limit, inflight] = ["allow", "limit", "inflight"].map(unique);
    let labels = Labels::enabled()
        .router(&allow, "rule", &format!("Host(`{allow}.test`)"))
        .router(&allow, "middlewares", &allow)
        .middleware(&allow, "ipallowlist.sourcerange", "203.0.113.0/24")
        .middleware(&allow, "ipallowlist.ipstrategy.depth", "1")
        .router(&limit, "rule", &format!("Host(`{limit}.test`)"))
        .router(&limit, "middlewares", &limit)
        .middleware(&limit, "ratelimit.average", "1")
        .middleware(&limit, "ratelimit.period", "1m")
        .middleware(
            &limit,
            "ratelimit.sourcecriterion.requestheadername",
            "X-Tenant",
        )
        .router(&inflight, "rule", &format!("Host(`{inflight}.test`)"))
        .router(&inflight, "middlewares", &inflight)
        .middleware(&inflight, "inflightreq.amount", "1");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let edge = router.addr("edge");
    let get = |addr: std::net::SocketAddr, host: String, xff: &'static str| async move {
        let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-For: {xff}\r\nX-Tenant: {xff}\r\nConnection: close\r\n\r\n");
        let ex = e2e::http::exchange(addr, raw.as_bytes()).await;
        ex.statuses().first().copied().unwrap_or(0)
    };
    // Wait for the route on the trusted entry point.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while get(edge, format!("{allow}.test"), "203.0.113.7").await != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "no route for {allow}.test"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Trusted sender: the forwarded address (depth 1: the rightmost) decides.
    assert_eq!(
        get(edge, format!("{allow}.test"), "198.51.100.1, 203.0.113.7").await,
        200
    );
    assert_eq!(
        get(edge, format!("{allow}.test"), "203.0.113.7, 198.51.100.1").await,
        403
    );
    // Untrusted client on `web`: its X-Forwarded-For is removed first; no address, refused.
    assert_eq!(
        get(router.web_addr(), format!("{allow}.test"), "203.0.113.7").await,
        403
    );

    // One request a minute per X-Tenant value.
    assert_eq!(get(edge, format!("{limit}.test"), "a").await, 200);
    assert_eq!(get(edge, format!("{limit}.test"), "a").await, 429);
    assert_eq!(get(edge, format!("{limit}.test"), "b").await, 200);

    // inflightreq (per host, Traefik's default): a large answer the client does not read
    // holds the one place; another request meanwhile gets 429; once that client leaves, 200.
    // The count of the request before is given back just after its last byte is sent, so the
    // held request may itself meet it: it is sent again until its answer starts with 200.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let slow = loop {
        let slow = hold_answer(edge, &format!("{inflight}.test")).await;
        match slow {
            Ok(stream) => break stream,
            Err(head) => assert!(
                std::time::Instant::now() < deadline,
                "the held request was refused: {head}"
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(get(edge, format!("{inflight}.test"), "x").await, 429);
    drop(slow);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while get(edge, format!("{inflight}.test"), "x").await != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the place was not given back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Asks `host` for a large answer and reads only its first bytes: with a 200 the stream is
/// returned (the rest of the answer waits on it), otherwise the head that came.
async fn hold_answer(
    edge: std::net::SocketAddr,
    host: &str,
) -> Result<tokio::net::TcpStream, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut slow = tokio::net::TcpStream::connect(edge).await.unwrap();
    let ask = format!("GET /data?size=200000000 HTTP/1.1\r\nHost: {host}\r\n\r\n");
    slow.write_all(ask.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    slow.read_exact(&mut head).await.unwrap();
    match &head == b"HTTP/1.1 200" {
        true => Ok(slow),
        false => Err(String::from_utf8_lossy(&head).into_owned()),
    }
}
