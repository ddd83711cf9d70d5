//! An error and its sources as one line of text, for logs and reports.

/// `e`, then each of its sources after `: `, leaving out a source whose text is already said
/// (clients such as the AWS SDK's repeat their cause in their own message).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #[derive(Debug)]
    struct Wrap(&'static str, Option<Box<Wrap>>);

    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|w| w as _)
        }
    }

    #[test]
    fn sources_follow_once() {
        let e = Wrap(
            "dispatch failure",
            Some(Box::new(Wrap(
                "io error",
                Some(Box::new(Wrap("refused", None))),
            ))),
        );
        assert_eq!(super::chain(&e), "dispatch failure: io error: refused");
        let repeated = Wrap(
            "service error: refused",
            Some(Box::new(Wrap("refused", None))),
        );
        assert_eq!(super::chain(&repeated), "service error: refused");
    }
}
