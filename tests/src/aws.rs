//! moto's AWS emulator in server mode (PyPI `moto[server]`), for the ECS provider: ECS and EC2
//! on one loopback port, started through `tests/aws/moto_ecs.py`, which adds what the ECS agent
//! would report (network bindings, ENI addresses), logs every call's access key and action,
//! and answers throttling errors while asked to. The tests set their fixtures up with boto3,
//! AWS's SDK for Python, under other credentials than the router's, so the log tells the
//! router's calls apart. Stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::make::repo;

/// The access key id the fixtures are set up with.
pub const SETUP_KEY: &str = "AKIDSETUP";

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Moto {
    /// Starts moto; awsvpc tasks' ENIs get `eni_ips` in order.
    pub fn start(eni_ips: &[&str]) -> Moto {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let mut child = Command::new("python3")
            .arg(repo().join("tests/aws/moto_ecs.py"))
            .env("MOTO_ECS_ENI_IPS", eni_ips.join(","))
            .env("MOTO_ACTION_LOG", dir.path().join("actions.log"))
            .env("MOTO_THROTTLE", dir.path().join("throttle"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs tests/aws/moto_ecs.py");
        let mut first = String::new();
        let stdout = child.stdout.take().expect("moto's stdout");
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("moto says where it listens");
        let port = first
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                panic!("moto did not start (pip install 'moto[server]'): {first:?}")
            });
        Moto { child, port, dir }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs `code` with boto3 clients `ecs`, `ec2` and `iam` (region `us-east-1`, the setup
    /// credentials) and prints the JSON of what it leaves in `out`; panics when it fails.
    pub fn boto(&self, code: &str) -> serde_json::Value {
        let script = format!(
            "import boto3, json\nkw = dict(endpoint_url={:?}, region_name='us-east-1', aws_access_key_id={SETUP_KEY:?}, aws_secret_access_key='setup')\necs = boto3.client('ecs', **kw)\nec2 = boto3.client('ec2', **kw)\niam = boto3.client('iam', **kw)\nout = None\n{code}\nprint(json.dumps(out, default=str))\n",
            self.endpoint()
        );
        let o = Command::new("python3")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("python3 runs");
        assert!(
            o.status.success(),
            "boto3 failed:\n{code}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "boto3's output: {e}: {}",
                String::from_utf8_lossy(&o.stdout)
            )
        })
    }

    /// The actions called with access key `key`, in order (`ecs:ListTasks`).
    pub fn actions_of(&self, key: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("actions.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{key} ")).map(str::to_owned))
            .collect()
    }

    /// From now on every call must be signed by an IAM user's access key (SigV4 checked) and
    /// allowed by its policies (moto's IAM enforcement; until now, calls are not checked).
    pub fn enforce_iam(&self) {
        let out = Command::new("curl")
            .args([
                "-sf",
                "-X",
                "POST",
                "-H",
                "Content-Type: text/plain",
                "--data",
                "0",
            ])
            .arg(format!("{}/moto-api/reset-auth", self.endpoint()))
            .output()
            .expect("curl runs");
        assert!(out.status.success(), "moto's reset-auth: {out:?}");
    }

    /// While on, every call is answered with the service's throttling error.
    pub fn throttle(&self, on: bool) {
        let file: PathBuf = self.dir.path().join("throttle");
        if on {
            std::fs::write(file, "").expect("write the throttle file");
        } else {
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
