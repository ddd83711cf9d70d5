//! Fuzzes label decoding, the container provider and compiling: no panic on any set of labels.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use router::model::compile::{compile, CompileSettings, EntryPointModel};
use router::provider::container::{snapshot, ContainerInfo, ContainerSettings, Health, RunState};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let labels: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (format!("traefik.{k}"), v.to_owned()))
        .collect();
    let c = ContainerInfo {
        id: "id".into(),
        name: "fuzz".into(),
        labels,
        state: RunState::Running,
        health: Health::None,
        networks: [("net".to_owned(), Some([172, 18, 0, 2].into()))].into_iter().collect(),
        bindings: Default::default(),
        network_mode: "bridge".into(),
        exposed_ports: [8080].into_iter().collect(),
    };
    let settings = ContainerSettings::traefik_defaults("docker");
    let eps = CompileSettings {
        entry_points: vec![EntryPointModel { name: "web".into(), default: true, ..Default::default() }],
        ..Default::default()
    };
    let _ = compile([&snapshot(&[c], &settings)], &eps).describe();
});
