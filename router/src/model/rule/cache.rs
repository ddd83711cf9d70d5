//! Parsed rules remembered by their text: a reconfiguration recompiles every router, and
//! parsing a rule (its regexes compiled, which is most of it) again for every unchanged router
//! cost about half of a rebuild at 10,000 routes. Memoization only: the result is the one
//! [`Rule::parse_with`] gives. Two generations are kept, the rules of the compile in progress
//! and of the one before it, so the cache holds about the rules in service and no more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Rule, RuleError, Syntax};

/// Shared, not cloned: a clone of a rule with a regex copies its pool of match caches.
type Parsed = Result<Arc<Rule>, RuleError>;

/// Parsed rules by syntax then text, each with the last generation that asked for it.
#[derive(Default)]
struct Generations {
    generation: u64,
    by_syntax: HashMap<Syntax, HashMap<String, (u64, Parsed)>>,
}

/// Parsed rules by text and syntax, in two generations.
pub struct RuleCache(Mutex<Option<Generations>>);

/// The process's cache, which [`crate::model::compile::compile`] uses.
pub static RULES: RuleCache = RuleCache::new();

impl Default for RuleCache {
    fn default() -> RuleCache {
        RuleCache::new()
    }
}

impl RuleCache {
    /// An empty cache.
    pub const fn new() -> RuleCache {
        RuleCache(Mutex::new(None))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Generations) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(guard.get_or_insert_with(Generations::default))
    }

    /// [`Rule::parse_with`], remembered. A rule found is looked up by the text borrowed and
    /// stamped with the generation in place (no key copied, nothing moved between maps: at
    /// 20,000 routes the compile looks up 20,000 rules).
    pub fn parse(&self, src: &str, syntax: Syntax) -> Parsed {
        let found = self.with(|g| {
            let now = g.generation;
            let (seen, p) = g.by_syntax.get_mut(&syntax)?.get_mut(src)?;
            *seen = now;
            Some(p.clone())
        });
        if let Some(p) = found {
            return p;
        }
        // Parsed outside the lock: a long rule does not hold up another compile.
        let parsed = Rule::parse_with(src, syntax).map(Arc::new);
        self.with(|g| {
            let now = g.generation;
            g.by_syntax
                .entry(syntax)
                .or_default()
                .insert(src.to_owned(), (now, parsed.clone()))
        });
        parsed
    }

    /// Starts a new generation (a compile begins): rules not asked for since the one before
    /// are forgotten.
    pub fn next_generation(&self) {
        self.with(|g| {
            let before = g.generation;
            g.generation += 1;
            for rules in g.by_syntax.values_mut() {
                rules.retain(|_, (seen, _)| *seen >= before);
            }
        });
    }

    #[cfg(test)]
    fn holds(&self, src: &str, syntax: Syntax) -> bool {
        self.with(|g| {
            g.by_syntax
                .get(&syntax)
                .is_some_and(|r| r.contains_key(src))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_rules_are_the_parsed_ones_and_old_ones_are_forgotten() {
        let cache = RuleCache::new();
        let src = "HostRegexp(`^[a-z]+\\.example$`) && PathPrefix(`/x`)";
        let a = cache.parse(src, Syntax::V3).unwrap();
        let b = cache.parse(src, Syntax::V3).unwrap();
        assert_eq!(a.to_string(), Rule::parse(src).unwrap().to_string());
        assert_eq!(a.to_string(), b.to_string());
        // Errors are remembered as errors; the syntax is part of the key.
        assert!(cache.parse("Hots(`x`)", Syntax::V3).is_err());
        assert!(cache.parse("Hots(`x`)", Syntax::V3).is_err());
        assert!(cache.parse("Host(`a`, `b`)", Syntax::V2).is_ok());
        assert!(cache.parse("Host(`a`, `b`)", Syntax::V3).is_err());
        let once = "PathPrefix(`/once`)";
        cache.parse(once, Syntax::V3).unwrap();
        cache.next_generation();
        assert!(
            cache.holds(once, Syntax::V3),
            "kept for one more generation"
        );
        cache.next_generation();
        assert!(!cache.holds(once, Syntax::V3), "forgotten after two");
        // Asked for again in the next generation: kept on.
        cache.parse(src, Syntax::V3).unwrap();
        cache.next_generation();
        cache.parse(src, Syntax::V3).unwrap();
        cache.next_generation();
        assert!(cache.holds(src, Syntax::V3));
    }
}
