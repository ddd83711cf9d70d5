//! Fuzzes the body inspector: no panic on any bytes, for every body kind, with and without
//! grants; with no grants, an accepted body must also be accepted with every grant.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policies::body::{inspect, BodyGrants, BodyKind};

const KINDS: [BodyKind; 6] = [
    BodyKind::ContainerCreate,
    BodyKind::ContainerUpdate,
    BodyKind::ExecCreate,
    BodyKind::ServiceCreate,
    BodyKind::ServiceUpdate,
    BodyKind::VolumeCreate,
];

fuzz_target!(|data: &[u8]| {
    let all = BodyGrants {
        privileged: true,
        host_namespaces: true,
        capabilities: true,
        devices: true,
        bind_mounts: vec!["/".into()],
    };
    for kind in KINDS {
        if inspect(kind, data, &BodyGrants::default()).is_ok() {
            assert!(inspect(kind, data, &all).is_ok());
        }
    }
});
