//! The prerequisite check `make up` and `make test` run before building anything
//! (`scripts/prereqs.sh` over `scripts/prereqs.list`, the list `.ci/run` installs from).
//!
//! Each case gives the check a list of its own (`PREREQS_LIST`) and forbids installing
//! (`PREREQS_INSTALL=never`), and puts a fake `cargo` first on `PATH` that only leaves a
//! marker: so "before compiling" is seen as the marker's absence, and a control with a list
//! that is satisfied shows the same `make` does reach cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e::make::repo;

/// A scratch directory with a fake `cargo` (it writes `cargo-ran` and fails) and the list.
struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new(list: &str) -> Scene {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin directory");
        let marker = dir.path().join("cargo-ran");
        let fake = format!(
            "#!/bin/sh\necho \"$@\" > '{}'\necho 'fake cargo: not building' >&2\nexit 1\n",
            marker.display()
        );
        std::fs::write(bin.join("cargo"), fake).expect("write the fake cargo");
        Command::new("chmod")
            .args(["+x", &bin.join("cargo").display().to_string()])
            .status()
            .expect("chmod");
        std::fs::write(dir.path().join("prereqs.list"), list).expect("write the list");
        Scene { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cargo_ran(&self) -> bool {
        self.path("cargo-ran").exists()
    }

    fn command(&self, program: &str) -> Command {
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new(program);
        c.current_dir(repo())
            .env("PATH", path)
            .env("PREREQS_LIST", self.path("prereqs.list"))
            .env("PREREQS_INSTALL", "never")
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS");
        c
    }

    fn make(&self, target: &str) -> Output {
        self.command("make")
            .args(["--no-print-directory", target])
            .output()
            .expect("make runs")
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const MISSING: &str = "\
# a test list: two things no machine has, one that every machine has
up,test  cmd:sg-prereq-no-such-tool  sg-no-such-package   a tool the test made up
test     file:/nonexistent/sg-prereq sg-other-package     a file the test made up
up,test  cmd:sh                      dash                 the shell
";

const SATISFIED: &str = "up,test  cmd:sh  dash  the shell\n";

#[test]
fn make_test_names_every_missing_package_and_stops_before_compiling() {
    let scene = Scene::new(MISSING);
    let out = scene.make("test");
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("make test cannot run: prerequisites are missing"),
        "{said}"
    );
    for name in ["sg-no-such-package", "sg-other-package"] {
        assert!(said.contains(name), "{name} not named: {said}");
    }
    assert!(
        said.contains("apt-get install -y sg-no-such-package sg-other-package"),
        "one command installs both: {said}"
    );
    assert!(
        !said.contains("dash"),
        "only what is missing is named: {said}"
    );
    assert!(
        !scene.cargo_ran(),
        "cargo ran although prerequisites are missing"
    );
}

#[test]
fn make_up_checks_only_what_it_needs() {
    let scene = Scene::new(MISSING);
    let out = scene.make("up");
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("make up cannot run"), "{said}");
    assert!(said.contains("sg-no-such-package"), "{said}");
    assert!(
        !said.contains("sg-other-package"),
        "a test-only prerequisite is not asked of make up: {said}"
    );
    assert!(!scene.cargo_ran());
}

#[test]
fn with_everything_present_make_reaches_the_build() {
    // The control: the same make, PATH and fake cargo, with a list that is satisfied.
    for target in ["test", "up"] {
        let scene = Scene::new(SATISFIED);
        let out = scene.make(target);
        assert!(!out.status.success(), "the fake cargo fails the build");
        assert!(scene.cargo_ran(), "make {target}: {}", text(&out));
    }
}

#[test]
fn a_missing_daemon_is_named_with_how_to_start_one() {
    // A docker CLI that finds no daemon: DOCKER_HOST at a unix socket nobody listens on.
    let scene = Scene::new("test daemon - images are built on it\n");
    let out = scene
        .command("scripts/prereqs.sh")
        .arg("test")
        .env(
            "DOCKER_HOST",
            format!("unix://{}", scene.path("none.sock").display()),
        )
        .output()
        .expect("prereqs.sh runs");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("No Docker daemon answers"), "{said}");
    assert!(said.contains("sudo dockerd &"), "{said}");
}

#[test]
fn usage_errors_exit_64() {
    let scene = Scene::new(SATISFIED);
    for args in [&["deploy"][..], &["test", "--maybe"][..], &[][..]] {
        let out = scene
            .command("scripts/prereqs.sh")
            .args(args)
            .output()
            .expect("prereqs.sh runs");
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", text(&out));
    }
    let out = scene
        .command("scripts/prereqs.sh")
        .arg("test")
        .env("PREREQS_LIST", Path::new("/nonexistent/list"))
        .output()
        .expect("prereqs.sh runs");
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
}

#[test]
fn the_shipped_list_is_what_this_machine_has() {
    // The real list, checked only: `make test` got here, so everything on it is present.
    let out = Command::new("scripts/prereqs.sh")
        .args(["test", "--check"])
        .current_dir(repo())
        .output()
        .expect("prereqs.sh runs");
    assert!(out.status.success(), "{}", text(&out));
}
