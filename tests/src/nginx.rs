//! Debian's nginx on loopback, as a real server a test needs beside the router (an
//! authentication server for `forwardAuth`, a backend whose access log shows what reached
//! it). Runs in the foreground in a scratch directory with the `http { ... }` block a test
//! gives; stopped when dropped. One process (no master): killing it leaves no worker behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs it.
const NGINX: &str = "/usr/sbin/nginx";

/// A running nginx.
#[derive(Debug)]
pub struct Nginx {
    dir: tempfile::TempDir,
    child: Child,
}

impl Nginx {
    /// Starts nginx with `http_block` (the inside of `http { }`; `@DIR@` stands for the scratch
    /// directory, for logs) and waits until every port in `ports` accepts connections.
    pub fn start(http_block: &str, ports: &[u16]) -> Nginx {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} is missing: apt-get install nginx (scripts/prereqs.sh test --install)"
        );
        let dir = tempfile::tempdir().expect("a scratch directory");
        let d = dir.path().display().to_string();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\nevents {{ worker_connections 256; }}\nhttp {{\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{}\n}}\n",
            http_block.replace("@DIR@", &d)
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).expect("write nginx.conf");
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nginx starts");
        let mut n = Nginx { dir, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in ports {
            while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
                if let Ok(Some(status)) = n.child.try_wait() {
                    panic!("nginx exited ({status}):\n{}", n.error_log());
                }
                assert!(
                    Instant::now() < deadline,
                    "nginx does not listen on {port}:\n{}",
                    n.error_log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        n
    }

    /// nginx on `127.0.0.1` and a free port answering every request 200 with `body` and a
    /// newline; and that port.
    pub fn answering(body: &str) -> (Nginx, u16) {
        let port = crate::make::free_port();
        let n = Nginx::start(
            &format!(
                "  server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"{body}\\n\"; }} }}\n"
            ),
            &[port],
        );
        (n, port)
    }

    /// A file in its scratch directory (a log it writes).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The lines of a log it writes (none yet: empty).
    pub fn log_lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The lines of log `name` once `done` holds for them (nginx writes a request's line after
    /// it has answered, a moment after its client may have the answer); after 5 s, whatever
    /// they are (the caller's assertion then says what is missing).
    pub async fn wait_log(&self, name: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let lines = self.log_lines(name);
            if done(&lines) || std::time::Instant::now() > deadline {
                return lines;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The lines of log `name` once no line came for 250 ms (at most 5 s): what was answered
    /// before is logged, so a count taken now is not one short.
    pub async fn settled(&self, name: &str) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut lines = self.log_lines(name);
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            let now = self.log_lines(name);
            if now == lines || std::time::Instant::now() > deadline {
                return now;
            }
            lines = now;
        }
    }

    /// Its error log, for a failure's message.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.path("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
