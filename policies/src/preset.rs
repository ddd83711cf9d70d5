//! The presets, built in: the same env files as in `policies/presets/`, so a section of the
//! policies file can start from one (`PRESET=monitoring`) without the file being shipped.

/// Every preset: its name and its env-file text.
pub const PRESETS: &[(&str, &str)] = &[
    ("router", include_str!("../presets/router.env")),
    ("router-swarm", include_str!("../presets/router-swarm.env")),
    ("dashboard", include_str!("../presets/dashboard.env")),
    ("monitoring", include_str!("../presets/monitoring.env")),
    ("updater", include_str!("../presets/updater.env")),
    ("deploy", include_str!("../presets/deploy.env")),
    ("test-runner", include_str!("../presets/test-runner.env")),
];

/// The text of preset `name`.
pub fn text(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The names, for an error that lists them.
pub fn names() -> String {
    PRESETS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `KEY=VALUE` lines of an env-file text (comments and blank lines left out), in order.
pub fn pairs(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn every_preset_file_is_built_in_and_parses() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/presets");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|f| f.strip_suffix(".env").map(str::to_owned))
            .collect();
        files.sort();
        let mut built_in: Vec<String> = PRESETS.iter().map(|(n, _)| n.to_string()).collect();
        built_in.sort();
        assert_eq!(files, built_in, "a preset file that is not built in");
        for (name, text) in PRESETS {
            let env: HashMap<String, String> = pairs(text)
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let learn_ok = |_: &str| Err::<String, String>("no file".into());
            crate::config::policy_from_env(&env, learn_ok)
                .unwrap_or_else(|e| panic!("preset {name}: {e}"));
        }
    }
}
