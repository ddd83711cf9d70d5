//! A real browser for the tests: Debian's headless Chromium, driven over the DevTools protocol
//! (a WebSocket). A page is opened, its console errors, uncaught exceptions and every request
//! it makes are recorded, its DOM is queried with JavaScript, and screenshots are written as
//! test artifacts (`target/artifacts/`, or `$ARTIFACTS_DIR`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A headless Chromium with one page, killed when dropped.
pub struct Browser {
    child: tokio::process::Child,
    ws: Socket,
    session: String,
    next_id: u64,
    /// Every event received, in order.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

/// Where test artifacts (screenshots) go.
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("ARTIFACTS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

impl Browser {
    /// Starts Chromium (`chromium` on PATH, or `$CHROMIUM`) with an empty profile and opens
    /// one page, `width` x `height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("profile dir: {e}"));
        let bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let mut child = tokio::process::Command::new(&bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{bin} cannot start ({e}): install Debian's chromium (scripts/prereqs.sh test)"
                )
            });
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let mut lines = BufReader::new(stderr).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(at) = line.find("ws://") {
                    return Some(line[at..].trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{bin} printed no DevTools address"));
        // The rest of its chatter is drained, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("DevTools {url}: {e}"));
        let mut b = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        };
        let target = b
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = b
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        b.session = attached["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {attached}"))
            .to_owned();
        for domain in ["Page", "Runtime", "Log", "Network"] {
            b.call(&format!("{domain}.enable"), json!({})).await;
        }
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700 }),
        )
        .await;
        b
    }

    /// Sends a command (to the page once attached) and waits for its result; events that
    /// arrive meanwhile are kept. Panics on a protocol error.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(left, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{method}: no answer in 30 s"));
            let Some(Ok(Message::Text(text))) = next else {
                match next {
                    Some(Ok(_)) => continue,
                    other => panic!("{method}: DevTools connection ended: {other:?}"),
                }
            };
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    /// Opens `url` and waits for its load event.
    pub async fn open(&mut self, url: &str) {
        let seen = self.events.len();
        self.call("Page.navigate", json!({ "url": url })).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.events[seen..]
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            assert!(Instant::now() < deadline, "{url}: never loaded");
            self.eval("1").await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    pub async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// The page's visible text.
    pub async fn text(&mut self) -> String {
        let v = self.eval("document.body.innerText").await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until `expression` is truthy in the page (`what` names it in the failure).
    pub async fn wait_for(&mut self, what: &str, expression: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.eval(expression).await;
            if !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("") {
                return v;
            }
            if Instant::now() >= deadline {
                let text = self.eval("document.body.innerText").await;
                let errors = self.errors();
                let requests = self.requests();
                panic!("{what}: not seen within {within:?}; the page shows:\n{text}\nits errors: {errors:#?}\nits requests: {requests:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Console errors, uncaught exceptions and failed loads the page reported so far.
    ///
    /// One failure is left out: `net::ERR_NETWORK_CHANGED`. Chromium aborts every request in
    /// flight when an interface of the host changes, and the tests' own `docker run` adds one
    /// (a veth, a bridge coming up) while the page polls; that is the test machine, not the
    /// page, and the page must show it recovered by what the test waits for next.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| !e.to_string().contains("net::ERR_NETWORK_CHANGED"))
            .filter_map(|e| {
                let p = &e["params"];
                match e["method"].as_str()? {
                    "Runtime.exceptionThrown" => Some(p["exceptionDetails"].to_string()),
                    "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
                        Some(p["args"].to_string())
                    }
                    "Log.entryAdded" if p["entry"]["level"] == "error" => {
                        Some(p["entry"].to_string())
                    }
                    "Network.loadingFailed" if p["canceled"] != true => Some(p.to_string()),
                    _ => None,
                }
            })
            .collect()
    }

    /// Every URL the page asked for so far.
    pub fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }

    /// Asserts that the page reported no error and asked only `origin` (and `data:` URLs).
    pub fn assert_clean(&self, origin: &str) {
        let errors = self.errors();
        assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
        let away: Vec<String> = self
            .requests()
            .into_iter()
            .filter(|u| !u.starts_with(origin) && !u.starts_with("data:"))
            .collect();
        assert!(away.is_empty(), "requests left {origin}: {away:#?}");
    }

    /// Prefers the dark color scheme (or not).
    pub async fn dark(&mut self, on: bool) {
        let value = if on { "dark" } else { "light" };
        self.call(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": value }] }),
        )
        .await;
    }

    /// Writes a PNG of the page as it is to the artifacts directory; returns its path.
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": false }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or(""))
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        let path = artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
