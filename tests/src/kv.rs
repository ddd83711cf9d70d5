//! Debian's etcd and Redis on loopback, the stores the KV providers read and cluster mode
//! publishes into, driven with their own command-line clients (`etcdctl`, `redis-cli`) the
//! way Traefik's users write keys. Each runs in the foreground in a scratch directory;
//! stopped when dropped, and can be stopped and started again on the same data.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::make::free_port;

const ETCD: &str = "/usr/bin/etcd";
const REDIS: &str = "/usr/bin/redis-server";

fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: apt-get install {package} (scripts/prereqs.sh test --install)"
    );
}

fn wait_port(child: &mut Child, port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} does not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn checked(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running etcd (one member, client port on loopback).
#[derive(Debug)]
pub struct Etcd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The client port.
    pub port: u16,
    peer: u16,
    /// `--cert-file`, `--key-file`, `--trusted-ca-file` (client certificates required).
    tls: Option<[std::path::PathBuf; 3]>,
    /// `etcdctl` arguments added to every call (`--user`, TLS files).
    pub ctl_args: Vec<String>,
}

impl Etcd {
    /// An etcd over plain HTTP.
    pub fn start() -> Etcd {
        Etcd::start_with(None)
    }

    /// An etcd serving TLS with `cert`/`key`, requiring client certificates signed by `ca`.
    pub fn start_with(tls: Option<[std::path::PathBuf; 3]>) -> Etcd {
        require(ETCD, "etcd-server");
        let mut e = Etcd {
            dir: tempfile::tempdir().expect("a scratch directory"),
            child: None,
            port: free_port(),
            peer: free_port(),
            tls,
            ctl_args: Vec::new(),
        };
        e.resume();
        e
    }

    fn scheme(&self) -> &str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// `host:port` of the client port.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on its data.
    pub fn resume(&mut self) {
        let d = self.dir.path();
        let client = format!("{}://127.0.0.1:{}", self.scheme(), self.port);
        let log = d.join("etcd.log");
        let mut cmd = Command::new(ETCD);
        cmd.arg("--name=kvtest")
            .arg(format!("--data-dir={}", d.join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{}", self.peer))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{}",
                self.peer
            ))
            .arg(format!(
                "--initial-cluster=kvtest=http://127.0.0.1:{}",
                self.peer
            ))
            .arg("--log-outputs=stderr");
        if let Some([cert, key, ca]) = &self.tls {
            cmd.arg(format!("--cert-file={}", cert.display()))
                .arg(format!("--key-file={}", key.display()))
                .arg(format!("--trusted-ca-file={}", ca.display()))
                .arg("--client-cert-auth");
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("etcd log"))
            .spawn()
            .expect("etcd starts");
        let mut child = child;
        wait_port(&mut child, self.port, "etcd", &log);
        self.child = Some(child);
        // Ready for requests, not only listening.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.ctl_raw(&["endpoint", "health"]).status.success() {
            assert!(Instant::now() < deadline, "etcd is not healthy");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn ctl_raw(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("etcdctl");
        cmd.env("ETCDCTL_API", "3")
            .arg(format!(
                "--endpoints={}://{}",
                self.scheme(),
                self.endpoint()
            ))
            .args(&self.ctl_args);
        if let Some([cert, key, ca]) = &self.tls {
            cmd.arg(format!("--cert={}", cert.display()))
                .arg(format!("--key={}", key.display()))
                .arg(format!("--cacert={}", ca.display()));
        }
        cmd.args(args).output().expect("etcdctl runs")
    }

    /// `etcdctl ARGS`, which must succeed; its output.
    pub fn ctl(&self, args: &[&str]) -> String {
        checked(&format!("etcdctl {args:?}"), self.ctl_raw(args))
    }

    /// `etcdctl put KEY VALUE`.
    pub fn put(&self, key: &str, value: &str) {
        self.ctl(&["put", "--", key, value]);
    }

    /// `etcdctl del --prefix PREFIX`.
    pub fn del_prefix(&self, prefix: &str) {
        self.ctl(&["del", "--prefix", "--", prefix]);
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running Redis on loopback.
#[derive(Debug)]
pub struct Redis {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    args: Vec<String>,
    /// `redis-cli` arguments added to every call (`--user`, `--pass`, `-n`).
    pub cli_args: Vec<String>,
}

impl Redis {
    /// A Redis with extra server arguments (`--requirepass`, ...), keyspace notifications off
    /// (its default).
    pub fn start(args: &[&str]) -> Redis {
        require(REDIS, "redis-server");
        let mut r = Redis {
            dir: tempfile::tempdir().expect("a scratch directory"),
            child: None,
            port: free_port(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            cli_args: Vec::new(),
        };
        r.resume();
        r
    }

    /// `host:port`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts it (again), with an empty data set.
    pub fn resume(&mut self) {
        let log = self.dir.path().join("redis.log");
        let mut child = Command::new(REDIS)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("no")
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        wait_port(&mut child, self.port, "redis-server", &log);
        self.child = Some(child);
    }

    /// Stops it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `redis-cli ARGS`, which must succeed; its output (`redis-cli` exits 0 on a command
    /// error: the output says it).
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("--no-auth-warning")
            .args(&self.cli_args)
            .args(args)
            .output()
            .expect("redis-cli runs");
        checked(&format!("redis-cli {args:?}"), out)
    }

    /// `SET KEY VALUE`.
    pub fn set(&self, key: &str, value: &str) {
        let out = self.cli(&["SET", key, value]);
        assert_eq!(out.trim(), "OK", "SET {key}: {out}");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
