//! Policy reload on SIGHUP: the configuration is read again (the variables cannot change in a
//! running process, but the files `GUARD_RULES_FILE` and `GUARD_POLICIES_FILE` name can) and its policy put in force for
//! the requests that come after. Open connections and streams are kept: a request already
//! judged keeps its judgement. A configuration that no longer parses is logged and the policy
//! in force is kept (the guard never falls back to something more open). Settings other than
//! the policy (listeners, caps, timeouts) take effect at the next start only.

use crate::config::Config;
use crate::server::State;
use policies::config::ConfigError;

/// Puts the policy of `reread` in force, or keeps the one in force when it is an error; what
/// happened, for the log.
pub fn apply(state: &State, reread: Result<Config, ConfigError>) -> Result<String, String> {
    match reread {
        Ok(config) => {
            let set = crate::policy_set::PolicySet::new(config.policy, config.policies);
            let text = set.render();
            state.set_policies(set);
            Ok(text)
        }
        Err(e) => Err(format!("{e}; the policy in force is kept")),
    }
}

/// Reloads on every SIGHUP, reading the configuration with `read` (the process environment and
/// files, as at start).
pub async fn on_sighup(
    state: std::sync::Arc<State>,
    read: impl Fn() -> Result<Config, ConfigError> + Send + 'static,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("SIGHUP cannot be handled here; the policy is never reloaded");
        return;
    };
    while hup.recv().await.is_some() {
        match apply(&state, read()) {
            Ok(policy) => {
                tracing::info!(policy = %policy.replace('\n', "; "), "policy reloaded (SIGHUP)")
            }
            Err(e) => tracing::error!(error = %e, "policy reload failed (SIGHUP)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::cfg as config;

    #[test]
    fn a_good_configuration_replaces_the_policy_and_a_bad_one_keeps_it() {
        let state = State::new(config(&[]).expect("valid"));
        assert!(!state
            .policy()
            .switches()
            .section(policies::section::Section::Info));
        apply(&state, config(&[("INFO", "1")])).expect("applied");
        assert!(state
            .policy()
            .switches()
            .section(policies::section::Section::Info));
        let kept = apply(&state, config(&[("INFO", "maybe")])).expect_err("refused");
        assert!(kept.contains("INFO") && kept.contains("kept"), "{kept}");
        assert!(state
            .policy()
            .switches()
            .section(policies::section::Section::Info));
    }

    #[test]
    fn a_reloaded_policies_file_applies_to_the_next_choice() {
        use crate::config::tests::cfg_with_file;
        use crate::policy_set::Identity;
        let env = [
            ("GUARD_LISTEN", "127.0.0.1:2375"),
            ("GUARD_POLICIES_FILE", "/p"),
        ];
        let state = State::new(
            cfg_with_file(&env, "[a]\nMATCH_FROM=10.0.0.0/8\nCONTAINERS=1\n").expect("valid"),
        );
        let id = Identity {
            listener: std::sync::Arc::new(crate::config::ListenAddr::Tcp(
                "127.0.0.1:2375".parse().expect("addr"),
            )),
            peer: Some("10.1.2.3".parse().expect("ip")),
            cred: None,
            cert_names: Vec::new(),
            labels: None,
        };
        assert_eq!(&*state.policy_for(&id).0, "a");
        let text = apply(
            &state,
            cfg_with_file(&env, "[b]\nMATCH_FROM=10.1.0.0/16\nIMAGES=1\n"),
        )
        .expect("applied");
        assert!(text.contains("#### policy b"), "{text}");
        let (name, policy) = state.policy_for(&id);
        assert_eq!(&*name, "b");
        assert!(policy
            .switches()
            .section(policies::section::Section::Images));
        // A file that no longer parses keeps the policies in force.
        apply(&state, cfg_with_file(&env, "[c]\nCONTAINERS=1\n")).expect_err("no match line");
        assert_eq!(&*state.policy_for(&id).0, "b");
    }
}
