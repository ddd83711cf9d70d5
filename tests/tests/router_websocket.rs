//! A WebSocket through the router: a real client (tokio-tungstenite) to whoami's `/ws` echo,
//! routed by the `Host` header.
//!
//! Proves that: the upgrade is forwarded (101 with the right `Sec-WebSocket-Accept`, which the
//! client checks), messages flow both ways through the tunnel, the open-tunnels gauge counts
//! it, and closing the client ends the tunnel.
#![allow(clippy::unwrap_used)]

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::client_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use e2e::docker::{require_docker, Cleanup};
use e2e::router::{router_guard, run_whoami, unique, Labels, Router, BOUND};
use e2e::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echo_through_the_router() {
    require_docker();
    let c = Cleanup::new("rt-ws");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().start(&guard).await;
    let name = unique("ws");
    let host = format!("{name}.test");
    run_whoami(
        &c,
        "w",
        &net,
        &Labels::enabled().router(&name, "rule", &format!("Host(`{host}`)")),
        &[],
    )
    .await;
    router.wait_status(&host, "/", 200).await;

    let mut req = format!("ws://{}/ws", router.web_addr())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("host", HeaderValue::from_str(&host).unwrap());
    let stream = TcpStream::connect(router.web_addr()).await.unwrap();
    let (mut ws, resp) = tokio::time::timeout(BOUND, client_async(req, stream))
        .await
        .expect("the handshake finished")
        .expect("the handshake succeeded");
    assert_eq!(resp.status(), 101);

    for text in ["hello", "and again"] {
        ws.send(Message::text(text)).await.unwrap();
        let echoed = tokio::time::timeout(BOUND, ws.next())
            .await
            .expect("an echo")
            .expect("the stream is open")
            .unwrap();
        assert_eq!(echoed, Message::text(text));
    }
    let metrics = router.shared().metrics.clone();
    assert_eq!(metrics.open_tunnels.get(), 1);

    ws.close(None).await.unwrap();
    drop(ws);
    assert!(
        wait_until(BOUND, || metrics.open_tunnels.get() == 0).await,
        "the tunnel stayed open"
    );
}
