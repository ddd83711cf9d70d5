//! Traefik's (and vulcand/oxy's) test tables for the `retry`, `circuitBreaker`, `buffering`
//! and `errors` middlewares, translated into data: a configuration as written in a dynamic
//! configuration file, and what Traefik makes of it (refused or not, the decisions its
//! middleware takes). Each group names the test, or the source, it comes from. Where the
//! router differs on purpose, the case states the router's behaviour and points to README.md.
//!
//! The breaker's state machine and its metrics are in `middleware::circuit_breaker`'s own
//! `traefik_tables`; the `errors` page request's headers in `middleware::errors`'.

// The tables are tuples of plain data.
#![allow(clippy::type_complexity)]

use std::time::Duration;

use super::circuit_breaker::{parse, Metrics};
use super::retry_expression::{RetryExpression, Try};
use super::{decode, ErrorPages, Middleware, Retry};
use crate::tree::Node;

/// A middleware from its YAML definition (the part under `middlewares.<name>`).
fn middleware(yaml: &str) -> Result<Middleware, String> {
    let node = Node::from_yaml(yaml, "m")?;
    match decode(&node) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err("not supported".into()),
        Err(e) => Err(e.to_string()),
    }
}

mod retry {
    use super::*;

    fn retry(options: &str) -> Result<Retry, String> {
        match middleware(&format!("retry: {{{options}}}"))? {
            Middleware::Retry(r) => Ok(*r),
            other => Err(format!("not a retry: {other:?}")),
        }
    }

    /// pkg/middlewares/retry/retry_test.go, TestRetryHTTPStatusCodesConfigValidation:
    /// the options `New` accepts (`status` read by `types.NewHTTPCodeRanges`).
    #[test]
    fn config_validation() {
        for (options, ok) in [
            ("attempts: 2, status: ['503']", true),
            ("attempts: 2, status: ['500-599']", true),
            ("attempts: 2, status: ['abc']", false),
            // Empty status and disableRetryOnNetworkError: nothing would be retried.
            (
                "attempts: 2, status: [], disableRetryOnNetworkError: true",
                false,
            ),
            ("attempts: 0, status: ['503']", false),
            // retry.go, New: "incorrect (or empty) value for attempt".
            ("status: ['503']", false),
            ("attempts: -1", false),
            ("attempts: 1", true),
        ] {
            assert_eq!(
                retry(options).is_ok(),
                ok,
                "{options}: {:?}",
                retry(options)
            );
        }
    }

    /// What one try of the request meets, as the tests' `next` handlers simulate it.
    #[derive(Debug, Clone, Copy)]
    enum Outcome {
        /// Reached the proxy, nothing sent to the server (`WroteHeaders` not called): a
        /// network error, answered with this status.
        Unreached(u16),
        /// The server's answer (after `WroteHeaders`).
        Answer(u16),
    }
    use Outcome::{Answer, Unreached};

    /// The tries of a request, as the router decides them (`Plan::retry_wait` with the body
    /// held by `hold_for_retry`): the retries made and the status the client gets.
    fn run(
        r: &Retry,
        method: &str,
        body: u64,
        outcomes: &[Outcome],
        delay: Duration,
    ) -> (u32, u16) {
        let on_status = r.retries_on_status(method) && body <= r.max_request_body_bytes;
        let (mut tries, mut elapsed) = (0u32, Duration::ZERO);
        loop {
            let o = outcomes[(tries as usize).min(outcomes.len() - 1)];
            tries += 1;
            elapsed += delay;
            let timed_out = !r.timeout.is_zero() && elapsed >= r.timeout;
            let again = tries < r.attempts
                && !timed_out
                && match o {
                    Unreached(_) => !r.disable_retry_on_network_error,
                    Answer(s) => on_status && r.retries_status(s, method),
                };
            if !again {
                let (Unreached(s) | Answer(s)) = o;
                return (tries - 1, s);
            }
        }
    }

    /// retry_test.go, TestRetry ("faulty endpoints" answer 502 before sending anything),
    /// TestRetryEmptyServerList, TestRetryWebsocket (101 after the faulty ones).
    #[test]
    fn network_errors() {
        let ok = Answer(200);
        let net = Unreached(502);
        for (options, outcomes, retries, status) in [
            ("attempts: 5", &[ok][..], 0, 200),
            ("attempts: 5, initialInterval: 50us", &[ok], 0, 200),
            ("attempts: 1", &[net, ok], 0, 502),
            ("attempts: 1, initialInterval: 50us", &[net, ok], 0, 502),
            ("attempts: 2", &[net, ok], 1, 200),
            ("attempts: 2, initialInterval: 50us", &[net, ok], 1, 200),
            ("attempts: 3", &[net, net, ok], 2, 200),
            (
                "attempts: 3, initialInterval: 50us",
                &[net, net, ok],
                2,
                200,
            ),
            ("attempts: 3", &[net, net, net, ok], 2, 502),
            (
                "attempts: 3, initialInterval: 50us",
                &[net, net, net, ok],
                2,
                502,
            ),
            // TestRetryEmptyServerList: the server answered 503: not a network error.
            ("attempts: 3", &[Answer(503)], 0, 503),
            // TestRetryWebsocket.
            ("attempts: 3", &[net, net, Answer(101)], 2, 101),
            ("attempts: 3", &[Answer(101)], 0, 101),
            ("attempts: 3", &[net, Answer(101)], 1, 101),
            ("attempts: 2", &[net, net, Answer(101)], 1, 502),
        ] {
            let r = retry(options).unwrap();
            assert_eq!(
                run(&r, "GET", 0, outcomes, Duration::ZERO),
                (retries, status),
                "{options} {outcomes:?}"
            );
        }
    }

    /// retry_test.go, TestRetryHTTPStatusCodes, TestRetryHTTPStatusCodesLargeBodyError,
    /// TestRetryDoesNotBufferBodyForNonIdempotentMethod: (options, method, body length,
    /// tries' outcomes, delay of each try in ms, retries, status the client gets).
    #[test]
    fn http_status_codes() {
        let body = "test request body".len() as u64;
        for (options, method, body, outcomes, delay, retries, status) in [
            (
                "attempts: 3, status: ['503'], maxRequestBodyBytes: 1024",
                "GET",
                body,
                &[Answer(503), Answer(200)][..],
                0,
                1,
                200,
            ),
            (
                "attempts: 4, status: ['500-599'], maxRequestBodyBytes: 1024",
                "GET",
                body,
                &[Answer(500), Answer(502), Answer(503), Answer(200)],
                0,
                3,
                200,
            ),
            (
                "attempts: 3, status: ['502', '503', '504'], maxRequestBodyBytes: 1024",
                "GET",
                body,
                &[Answer(502), Answer(200)],
                0,
                1,
                200,
            ),
            (
                "attempts: 3, status: ['503'], maxRequestBodyBytes: 1024",
                "GET",
                0,
                &[Answer(500)],
                0,
                0,
                500,
            ),
            (
                "attempts: 3, status: ['503']",
                "GET",
                0,
                &[Answer(503), Answer(503), Answer(503)],
                0,
                2,
                503,
            ),
            (
                "attempts: 3, status: ['502'], maxRequestBodyBytes: 1024",
                "GET",
                body,
                &[Answer(502), Answer(200)],
                0,
                1,
                200,
            ),
            // The body is over maxRequestBodyBytes: it is not held, no retry on a status.
            (
                "attempts: 3, status: ['502'], maxRequestBodyBytes: 8",
                "GET",
                body,
                &[Answer(502), Answer(200)],
                0,
                0,
                502,
            ),
            // Each try takes the whole timeout: no retry.
            (
                "attempts: 5, status: ['503'], timeout: 50ms",
                "GET",
                0,
                &[Answer(503)],
                50,
                0,
                503,
            ),
            // The network error is written through once the timeout is over.
            (
                "attempts: 5, status: ['503'], timeout: 50ms",
                "GET",
                0,
                &[Unreached(504)],
                50,
                0,
                504,
            ),
            (
                "attempts: 3, status: ['503'], maxRequestBodyBytes: 1024",
                "GET",
                body,
                &[Unreached(504), Answer(503), Answer(200)],
                0,
                2,
                200,
            ),
            (
                "attempts: 3, status: ['503'], maxRequestBodyBytes: 1024",
                "POST",
                body,
                &[Answer(503), Answer(200)],
                0,
                0,
                503,
            ),
            (
                "attempts: 3, status: ['503'], retryNonIdempotentMethod: true, maxRequestBodyBytes: 1024",
                "POST",
                body,
                &[Answer(503), Answer(200)],
                0,
                1,
                200,
            ),
            (
                "attempts: 3, status: ['503'], disableRetryOnNetworkError: true, maxRequestBodyBytes: 1024",
                "GET",
                0,
                &[Unreached(504), Answer(200)],
                0,
                0,
                504,
            ),
            // TestRetryHTTPStatusCodesLargeBodyError.
            (
                "attempts: 3, status: ['503'], maxRequestBodyBytes: 100",
                "POST",
                1000,
                &[Answer(503)],
                0,
                0,
                503,
            ),
            // TestRetryDoesNotBufferBodyForNonIdempotentMethod: POST is not retried on a
            // status, so its body is not held (read) at all.
            (
                "attempts: 3, status: ['503'], maxRequestBodyBytes: 1024",
                "POST",
                10,
                &[Answer(200)],
                0,
                0,
                200,
            ),
            // retry.go: PATCH and LOCK are not idempotent either; PUT and DELETE are.
            (
                "attempts: 3, status: ['503']",
                "PATCH",
                0,
                &[Answer(503), Answer(200)],
                0,
                0,
                503,
            ),
            (
                "attempts: 3, status: ['503']",
                "LOCK",
                0,
                &[Answer(503), Answer(200)],
                0,
                0,
                503,
            ),
            (
                "attempts: 3, status: ['503']",
                "PUT",
                0,
                &[Answer(503), Answer(200)],
                0,
                1,
                200,
            ),
            (
                "attempts: 3, status: ['503']",
                "DELETE",
                0,
                &[Answer(503), Answer(200)],
                0,
                1,
                200,
            ),
            // maxRequestBodyBytes 0 holds only an empty body (mirror.NewReusableRequest
            // reads one byte more than the limit).
            (
                "attempts: 3, status: ['503'], maxRequestBodyBytes: 0",
                "GET",
                1,
                &[Answer(503), Answer(200)],
                0,
                0,
                503,
            ),
            (
                "attempts: 3, status: ['503'], maxRequestBodyBytes: 0",
                "GET",
                0,
                &[Answer(503), Answer(200)],
                0,
                1,
                200,
            ),
        ] {
            let r = retry(options).unwrap();
            assert_eq!(
                run(&r, method, body, outcomes, Duration::from_millis(delay)),
                (retries, status),
                "{options} {method} {outcomes:?}"
            );
        }
    }

    /// retry.go, newBackOff, with cenkalti/backoff v4's ExponentialBackOff: the first wait is
    /// `initialInterval`, each next one the last times 2^(1/(attempts-1)) (Go truncating to
    /// the nanosecond), capped at its MaxInterval, 60s; none without an interval or with a
    /// single attempt. (The random spread of ±50% is left out: README.md, the `retry` row.)
    #[test]
    fn backoff_series() {
        for (options, waits_ns) in [
            (
                "attempts: 3, initialInterval: 100ms",
                &[100_000_000u64, 141_421_356][..],
            ),
            (
                "attempts: 5, initialInterval: 50us",
                &[50_000, 59_460, 70_710, 84_088],
            ),
            ("attempts: 2, initialInterval: 50us", &[50_000]),
            ("attempts: 1, initialInterval: 50us", &[]),
            ("attempts: 4", &[0, 0, 0]),
            ("attempts: 4, initialInterval: 0s", &[0, 0, 0]),
            (
                "attempts: 4, initialInterval: 1s",
                &[1_000_000_000, 1_259_921_049, 1_587_401_050],
            ),
            // MaxInterval: once an interval reaches 60s / multiplier, the next is 60s.
            (
                "attempts: 3, initialInterval: 50s",
                &[50_000_000_000, 60_000_000_000],
            ),
            (
                "attempts: 3, initialInterval: 100s",
                &[100_000_000_000, 60_000_000_000],
            ),
            (
                "attempts: 4, initialInterval: 40s",
                &[40_000_000_000, 50_396_841_995, 60_000_000_000],
            ),
        ] {
            let r = retry(options).unwrap();
            let got: Vec<u64> = (2..=r.attempts)
                .map(|n| r.wait_before(n).as_nanos() as u64)
                .collect();
            assert_eq!(got, waits_ns, "{options}");
            assert_eq!(r.wait_before(1), Duration::ZERO);
        }
    }

    /// The defaults: RetryDefaultMaxRequestBodyBytes (2 MiB), and a negative
    /// maxRequestBodyBytes (unlimited for Traefik) capped (README.md, the `retry` row).
    #[test]
    fn max_request_body_bytes() {
        for (options, want) in [
            ("attempts: 2", 2 << 20),
            ("attempts: 2, maxRequestBodyBytes: 1024", 1024),
            ("attempts: 2, maxRequestBodyBytes: 0", 0),
            (
                "attempts: 2, maxRequestBodyBytes: -1",
                super::super::retry::MAX_HELD_BODY,
            ),
        ] {
            assert_eq!(
                retry(options).unwrap().max_request_body_bytes,
                want,
                "{options}"
            );
        }
    }

    /// ptypes.Duration reads Go durations (and plain seconds); a negative one is accepted
    /// and means none (`initialInterval <= 0`: no wait; `timeout > 0` only limits).
    #[test]
    fn durations() {
        for (options, interval, timeout) in [
            ("attempts: 2, initialInterval: 1, timeout: 2", 1_000, 2_000),
            (
                "attempts: 2, initialInterval: 1m30s, timeout: 1h",
                90_000,
                3_600_000,
            ),
            ("attempts: 2, initialInterval: -1s, timeout: -5s", 0, 0),
        ] {
            let r = retry(options).unwrap_or_else(|e| panic!("{options}: {e}"));
            assert_eq!(
                (r.initial_interval.as_millis(), r.timeout.as_millis()),
                (interval, timeout),
                "{options}"
            );
        }
    }
}

mod status_ranges {
    use super::*;

    fn errors(options: &str) -> Result<ErrorPages, String> {
        match middleware(&format!("errors: {{service: pages, {options}}}"))? {
            Middleware::Errors(e) => Ok(*e),
            other => Err(format!("not errors: {other:?}")),
        }
    }

    /// pkg/types/http_code_range.go, NewHTTPCodeRanges: each item is split on `-`; one
    /// code is a range of itself; the first two parts are read with `strconv.Atoi` (a third
    /// is left out); any integer is accepted, a range that no status is in too.
    #[test]
    fn parsing() {
        for (status, want) in [
            ("['404']", Some(vec![(404, 404)])),
            ("['500-599']", Some(vec![(500, 599)])),
            ("['500-501', '503-599']", Some(vec![(500, 501), (503, 599)])),
            (
                "['404', '418', '500-599']",
                Some(vec![(404, 404), (418, 418), (500, 599)]),
            ),
            ("['503-503']", Some(vec![(503, 503)])),
            ("['500-599-600']", Some(vec![(500, 599)])),
            ("['599-500']", Some(vec![(599, 500)])),
            ("['400-99999']", Some(vec![(400, u16::MAX)])),
            ("['abc']", None),
            ("['4xx']", None),
            ("['404-']", None),
            ("['-404']", None),
            ("['500-5x9']", None),
            ("['1.5']", None),
        ] {
            let got = errors(&format!("status: {status}")).map(|e| e.status);
            assert_eq!(got.as_ref().ok(), want.as_ref(), "{status}: {got:?}");
        }
    }

    /// Retry's `status` is read the same way (retry.go, New).
    #[test]
    fn retry_status() {
        let Ok(Middleware::Retry(r)) =
            middleware("retry: {attempts: 2, status: ['500-599-600', '429']}")
        else {
            panic!()
        };
        assert_eq!(r.status, vec![(500, 599), (429, 429)]);
    }
}

mod errors {
    use super::*;

    fn errors(options: &str) -> Result<ErrorPages, String> {
        match middleware(&format!("errors: {{{options}}}"))? {
            Middleware::Errors(e) => Ok(*e),
            other => Err(format!("not errors: {other:?}")),
        }
    }

    /// pkg/middlewares/customerrors/custom_errors_test.go, TestHandler: (status, query, the
    /// backend's status, the page's request URI when it is caught). The client gets the
    /// caught status (the codeModifier enforces it whatever the page's own status).
    #[test]
    fn handler() {
        let url = "http://localhost/test?foo=bar&baz=buz";
        for (status, query, code, page) in [
            ("['500-501', '503-599']", "/test", 200, None),
            ("['500-501', '503-599']", "/test", 206, None),
            ("['500-501', '503-599']", "/test", 304, None),
            ("['500-501', '503-599']", "/test", 500, Some("/test")),
            ("['500-501', '503-599']", "/test", 502, None),
            ("['503-503']", "/{status}", 503, Some("/503")),
            ("['503']", "/{status}", 503, Some("/503")),
            (
                "['503']",
                "/?status={status}&url={url}",
                503,
                Some("/?status=503&url=http%3A%2F%2Flocalhost%2Ftest%3Ffoo%3Dbar%26baz%3Dbuz"),
            ),
            // Test1xxResponses: 200 may be caught too.
            ("['200']", "/", 200, Some("/")),
            // custom_errors.go: the query gets a leading `/`; none is `/` (the page request's
            // RequestURI).
            ("['503']", "test", 503, Some("/test")),
            ("['503']", "", 503, Some("/")),
            ("['503']", "/{originalStatus}.html", 503, Some("/503.html")),
        ] {
            let e = errors(&format!(
                "service: error, query: '{query}', status: {status}"
            ))
            .unwrap_or_else(|e| panic!("{status} {query}: {e}"));
            let got = e
                .catches(code)
                .then(|| (e.path(e.rewritten(code), code, url), e.rewritten(code)));
            assert_eq!(
                got,
                page.map(|p| (p.to_owned(), code)),
                "{status} {query} {code}"
            );
        }
    }

    /// dynamic.ErrorPage's statusRewrites ("418": 404 or "410-418": 404) and custom_errors.go:
    /// the client gets the rewritten status, `{status}` is the rewritten one,
    /// `{originalStatus}` the caught one.
    #[test]
    fn status_rewrites() {
        let e = errors(
            "service: error, status: ['400-599'], query: '/{status}?from={originalStatus}', statusRewrites: {'418': 404, '500-503': 500}",
        )
        .unwrap();
        for (code, client, page) in [
            (418, 404, "/404?from=418"),
            (404, 404, "/404?from=404"),
            (502, 500, "/500?from=502"),
            (504, 504, "/504?from=504"),
        ] {
            assert_eq!(e.rewritten(code), client, "{code}");
            assert_eq!(e.path(e.rewritten(code), code, "http://a/"), page, "{code}");
        }
        // The keys are status ranges as `status` reads them.
        assert!(errors("service: error, status: ['418'], statusRewrites: {'4x8': 404}").is_err());
    }

    /// dynamic.ErrorPage: no status catches nothing (NewHTTPCodeRanges of nothing); the
    /// service is required (BuildHTTP of no name fails); nginxHeaders is not settable from a
    /// file or labels (`file:"-"`, `label:"-"`).
    #[test]
    fn options() {
        let e = errors("service: error").unwrap();
        assert!(!e.catches(500) && !e.catches(404));
        assert!(errors("status: ['500']").is_err());
        assert!(errors("service: error, nginxHeaders: {X-Code: ['1']}").is_err());
        let e = errors("service: error, errorRequestHeaders: []").unwrap();
        assert_eq!(e.error_request_headers, Some(vec![]));
        let e = errors("service: error").unwrap();
        assert_eq!(e.error_request_headers, None);
    }
}

mod circuit_breaker {
    use super::*;

    /// Metrics of fixed values.
    struct M {
        net: f64,
        codes: f64,
        latency_ms: i64,
        total: i64,
    }

    impl Metrics for M {
        fn network_error_ratio(&self) -> f64 {
            self.net
        }
        fn response_code_ratio(&self, _: [i64; 4]) -> f64 {
            self.codes
        }
        fn latency_at_quantile_ms(&self, _: f64) -> i64 {
            self.latency_ms
        }
        fn total(&self) -> i64 {
            self.total
        }
    }

    /// vulcand/oxy cbreaker/predicates_test.go, Test_parseExpression_tripped, with the
    /// metrics its helpers record (statsNetErrors(0.6): 60 of 100 answers 504;
    /// statsLatencyAtQuantile: one answer of 51ms; statsResponseCodes: 5 200s and 6 (or 4)
    /// 500s). The same table runs on recorded answers in middleware::circuit_breaker.
    #[test]
    fn parse_expression_tripped() {
        let net = M {
            net: 0.6,
            codes: 0.0,
            latency_ms: 0,
            total: 100,
        };
        let slow = M {
            net: 0.0,
            codes: 0.0,
            latency_ms: 51,
            total: 1,
        };
        let codes = |n: f64| M {
            net: 0.0,
            codes: n / (5.0 + n),
            latency_ms: 0,
            total: 5 + n as i64,
        };
        for (expression, m, tripped) in [
            ("NetworkErrorRatio() > 0.5", &net, true),
            ("NetworkErrorRatio() < 0.5", &net, false),
            ("LatencyAtQuantileMS(50.0) > 50", &slow, true),
            ("LatencyAtQuantileMS(50.0) < 50", &slow, false),
            (
                "ResponseCodeRatio(500, 600, 0, 600) > 0.5",
                &codes(6.0),
                true,
            ),
            (
                "ResponseCodeRatio(500, 600, 0, 600) > 0.5",
                &codes(4.0),
                false,
            ),
            // Quantile not defined.
            ("LatencyAtQuantileMS(40.0) > 50", &net, false),
        ] {
            let c = parse(expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
            assert_eq!(c.holds(m), tripped, "{expression}");
        }
    }

    /// cbreaker_test.go, TestCircuitBreaker_requestThreshold: NetworkErrorRatio() > 0.5 &&
    /// RequestThreshold() >= 20 over 19, then 20, answers all 504.
    #[test]
    fn request_threshold() {
        let c = parse("NetworkErrorRatio() > 0.5 && RequestThreshold() >= 20").unwrap();
        for (total, tripped) in [(19, false), (20, true)] {
            let m = M {
                net: 1.0,
                codes: 0.0,
                latency_ms: 0,
                total,
            };
            assert_eq!(c.holds(&m), tripped, "{total}");
        }
    }

    /// cbreaker/predicates.go and predicates_operators.go (oxy v2.2.0, Traefik's) over
    /// vulcand/predicate's parse.go: the expressions accepted, and what they give for
    /// NetworkErrorRatio 0.4, ResponseCodeRatio 0.2, a latency of 150ms, 10 answers.
    #[test]
    fn operators() {
        let m = M {
            net: 0.4,
            codes: 0.2,
            latency_ms: 150,
            total: 10,
        };
        for (expression, holds) in [
            ("NetworkErrorRatio() == 0.4", true),
            ("NetworkErrorRatio() != 0.4", false),
            ("NetworkErrorRatio() <= 0.4", true),
            ("NetworkErrorRatio() >= 0.4", true),
            ("NetworkErrorRatio() < 0.4", false),
            ("NetworkErrorRatio() > 0.4", false),
            ("RequestThreshold() == 10", true),
            ("RequestThreshold() <= 9", false),
            ("RequestThreshold() >= 10", true),
            ("LatencyAtQuantileMS(99.9) >= 150", true),
            ("LatencyAtQuantileMS(99.9) != 150", false),
            ("ResponseCodeRatio(500, 600, 0, 600) > 0.1", true),
            // and / or are variadic joins of predicates; && binds tighter than ||.
            ("RequestThreshold() > 100 && RequestThreshold() > 100 || NetworkErrorRatio() > 0.1", true),
            ("NetworkErrorRatio() > 0.1 || RequestThreshold() > 100 && RequestThreshold() > 100", true),
            ("(NetworkErrorRatio() > 0.1 || RequestThreshold() > 100) && RequestThreshold() > 100", false),
            // ParenExpr is read through, around a predicate, a metric or a number.
            ("((NetworkErrorRatio() > 0.1))", true),
            ("(NetworkErrorRatio()) > 0.1", true),
            ("NetworkErrorRatio() > (0.1)", true),
            // Go literals: `.5`, `1.`, exponents; a leading 0 is still decimal for Atoi.
            ("NetworkErrorRatio() < .5", true),
            ("NetworkErrorRatio() < 1.", true),
            ("NetworkErrorRatio() >= 4e-1", true),
            ("RequestThreshold() == 010", true),
            // go/parser skips spaces, tabs and a newline after an operator; a newline at the
            // end is the semicolon ParseExpr allows.
            ("NetworkErrorRatio() > 0.1 &&\n\tRequestThreshold() > 1", true),
            ("NetworkErrorRatio() > 0.1\n", true),
        ] {
            let c = parse(expression).unwrap_or_else(|e| panic!("{expression:?}: {e}"));
            assert_eq!(c.holds(&m), holds, "{expression:?}");
        }
    }

    /// What oxy refuses (cbreaker.New fails, so does Traefik's middleware): the checks of
    /// predicates_operators.go (an int where a float64 metric is, and the reverse; a
    /// mapper on the left), the functions' Go types (callFunction's reflect.Call), and
    /// vulcand/predicate's grammar (no `!`: Operators.NOT is not set; unary minus, arithmetic,
    /// identifiers, selectors are not supported; ParseExpr's syntax errors).
    #[test]
    fn refused() {
        for expression in [
            "",
            " ",
            "NetworkErrorRatio()",
            "RequestThreshold()",
            "0.5",
            "NetworkErrorRatio() > 1",
            "NetworkErrorRatio() > 0",
            "ResponseCodeRatio(500, 600, 0, 600) > 1",
            "RequestThreshold() > 2.5",
            "RequestThreshold() > 2e1",
            "LatencyAtQuantileMS(50.0) > 100.0",
            "LatencyAtQuantileMS(50) > 100",
            "LatencyAtQuantileMS() > 100",
            "LatencyAtQuantileMS(50.0, 1.0) > 100",
            "LatencyAtQuantileMS(\"50\") > 100",
            "LatencyAtQuantileMS((50.0)) > 100",
            "ResponseCodeRatio(500, 600) > 0.5",
            "ResponseCodeRatio(500.0, 600, 0, 600) > 0.5",
            "ResponseCodeRatio(-1, 600, 0, 600) > 0.5",
            "ResponseCodeRatio(500, 600, 0, NetworkErrorRatio()) > 0.5",
            "NetworkErrorRatio(1) > 0.5",
            "RequestThreshold(1) > 5",
            "RequestsThreshold() > 5",
            "networkErrorRatio() > 0.5",
            "Unknown() > 1",
            "Foo > 1",
            "a.b > 1",
            "cbreaker.NetworkErrorRatio() > 0.5",
            "0.5 < NetworkErrorRatio()",
            "NetworkErrorRatio() > NetworkErrorRatio()",
            "!(NetworkErrorRatio() > 0.5)",
            "NetworkErrorRatio() > -0.5",
            "NetworkErrorRatio() > +0.5",
            "NetworkErrorRatio() + 1.0 > 0.5",
            "NetworkErrorRatio() * 2.0 > 0.5",
            "NetworkErrorRatio() > 0.5 & RequestThreshold() > 1",
            "NetworkErrorRatio() > 0.5 | RequestThreshold() > 1",
            "NetworkErrorRatio() > \"0.5\"",
            "NetworkErrorRatio() > '5'",
            "NetworkErrorRatio() > true",
            "NetworkErrorRatio() > 0.5 &&",
            "&& NetworkErrorRatio() > 0.5",
            "(NetworkErrorRatio() > 0.5",
            "NetworkErrorRatio() > 0.5)",
            "NetworkErrorRatio() > 0.5 && 1",
            "NetworkErrorRatio() > 0.5 && NetworkErrorRatio()",
            "NetworkErrorRatio() > 0.5 > 0.1",
            "NetworkErrorRatio() > 0.5 ; RequestThreshold() > 1",
            "NetworkErrorRatio() > 0.5, RequestThreshold() > 1",
            "RequestThreshold() > 0x10",
            "RequestThreshold() > 1_0",
            "RequestThreshold() > 99999999999999999999",
            "RequestThreshold() > 1i",
            // go/parser inserts a semicolon at a newline after a literal or `)`: what follows
            // is left over.
            "NetworkErrorRatio() > 0.1\n&& RequestThreshold() > 1",
            "NetworkErrorRatio()\n> 0.1",
        ] {
            assert!(parse(expression).is_err(), "{expression:?} parsed");
        }
    }

    /// dynamic.CircuitBreaker's SetDefaults (checkPeriod 100ms, fallbackDuration and
    /// recoveryDuration 10s, responseCode 503), and circuit_breaker.go's New: a duration
    /// only replaces oxy's default when it is positive.
    #[test]
    fn options() {
        let cb = |options: &str| match middleware(&format!(
            "circuitBreaker: {{expression: 'NetworkErrorRatio() > 0.5', {options}}}"
        )) {
            Ok(Middleware::CircuitBreaker(c)) => Ok((
                c.check_period.as_millis(),
                c.fallback_duration.as_millis(),
                c.recovery_duration.as_millis(),
                c.response_code,
            )),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        for (options, want) in [
            ("", Some((100, 10_000, 10_000, 503))),
            (
                "checkPeriod: 1s, fallbackDuration: 2s, recoveryDuration: 3s, responseCode: 418",
                Some((1_000, 2_000, 3_000, 418)),
            ),
            (
                "checkPeriod: 0s, fallbackDuration: 0, recoveryDuration: 0ms",
                Some((100, 10_000, 10_000, 503)),
            ),
            (
                "checkPeriod: -1s, fallbackDuration: -2s, recoveryDuration: -3s",
                Some((100, 10_000, 10_000, 503)),
            ),
            ("checkPeriod: 5", Some((5_000, 10_000, 10_000, 503))),
            // Traefik accepts it, and Go's WriteHeader then panics at every fallback answer
            // (a status outside 100-999): refused here, an error naming the key and value.
            ("responseCode: 0", None),
            ("responseCode: 1000", None),
            ("checkPeriod: soon", None),
        ] {
            assert_eq!(cb(options).ok(), want, "{options}: {:?}", cb(options));
        }
        // No expression: oxy's parser gets "" and fails.
        assert!(middleware("circuitBreaker: {checkPeriod: 1s}").is_err());
    }
}

mod buffering {
    use super::*;

    fn buffering(options: &str) -> Result<(Option<u64>, Option<u64>, bool), String> {
        match middleware(&format!("buffering: {{{options}}}"))? {
            Middleware::Buffering {
                max_request_body_bytes,
                max_response_body_bytes,
                retry_expression,
            } => Ok((
                max_request_body_bytes,
                max_response_body_bytes,
                retry_expression.is_some(),
            )),
            other => Err(format!("not buffering: {other:?}")),
        }
    }

    /// pkg/middlewares/buffering/buffering_test.go, TestBuffering's configurations, and
    /// oxy's buffer/options.go: every size must be >= 0 ("max bytes should be >= 0", "mem
    /// bytes should be >= 0"); 0 is no limit (Buffer.checkLimit, multibuf's maxBytes).
    #[test]
    fn options() {
        for (options, want) in [
            ("", Some((None, None, false))),
            ("maxRequestBodyBytes: 1", Some((Some(1), None, false))),
            ("maxResponseBodyBytes: 1", Some((None, Some(1), false))),
            (
                "maxRequestBodyBytes: 0, maxResponseBodyBytes: 0",
                Some((None, None, false)),
            ),
            (
                "memRequestBodyBytes: 0, memResponseBodyBytes: 2097152",
                Some((None, None, false)),
            ),
            ("maxRequestBodyBytes: -1", None),
            ("maxResponseBodyBytes: -1", None),
            ("memRequestBodyBytes: -1", None),
            ("memResponseBodyBytes: -1", None),
            ("maxRequestBodyBytes: big", None),
            (
                "retryExpression: 'IsNetworkError() && Attempts() <= 2'",
                Some((None, None, true)),
            ),
            ("retryExpression: ''", Some((None, None, false))),
            ("retryExpression: 'IsNetworkError() && 2'", None),
        ] {
            assert_eq!(
                buffering(options).ok(),
                want,
                "{options}: {:?}",
                buffering(options)
            );
        }
    }

    /// oxy buffer/threshold.go: IsNetworkError() is a 502 or 504 answer; Attempts() counts
    /// from 1; ResponseCode(), RequestMethod(); buffer.go tries again while the predicate
    /// holds and `attempt` is at most DefaultMaxRetryAttempts (10). buffer/retry_test.go:
    /// TestBuffer_success, _retryOnError (one server down, then one up),
    /// _retryExceedAttempts (three down, then one up): (expression, method, the tries'
    /// statuses, the tries made, the status the client gets).
    #[test]
    fn retry_expression() {
        for (expression, method, statuses, tries, status) in [
            (
                "IsNetworkError() && Attempts() <= 2",
                "GET",
                &[200][..],
                1,
                200,
            ),
            (
                "IsNetworkError() && Attempts() <= 2",
                "GET",
                &[502, 200],
                2,
                200,
            ),
            (
                "IsNetworkError() && Attempts() <= 2",
                "GET",
                &[502, 502, 502, 200],
                3,
                502,
            ),
            (
                "IsNetworkError() && Attempts() <= 2",
                "GET",
                &[504, 200],
                2,
                200,
            ),
            (
                "IsNetworkError() && Attempts() <= 2",
                "GET",
                &[503, 200],
                1,
                503,
            ),
            ("ResponseCode() == 503", "GET", &[503, 503, 200], 3, 200),
            (
                "ResponseCode() >= 500 && ResponseCode() < 600",
                "GET",
                &[500, 418],
                2,
                418,
            ),
            (
                "RequestMethod() == \"GET\" && IsNetworkError()",
                "POST",
                &[502, 200],
                1,
                502,
            ),
            (
                "RequestMethod() != \"POST\" && IsNetworkError()",
                "GET",
                &[502, 200],
                2,
                200,
            ),
            (
                "IsNetworkError() || Attempts() < 3",
                "GET",
                &[200, 200, 200, 201],
                3,
                200,
            ),
            // At most 10 retries, whatever the expression says.
            ("Attempts() < 100", "GET", &[502], 11, 502),
        ] {
            let e = RetryExpression::parse(expression)
                .unwrap_or_else(|err| panic!("{expression}: {err}"));
            let mut attempt = 0;
            let last = loop {
                let code = statuses[attempt.min(statuses.len() - 1)];
                attempt += 1;
                let t = Try {
                    method,
                    attempt: attempt as u32,
                    code,
                };
                if !e.retries(t) {
                    break code;
                }
            };
            assert_eq!(
                (attempt, last),
                (tries, status),
                "{expression} {statuses:?}"
            );
        }
    }

    /// oxy buffer/threshold.go's operators: strings compare with == and != only, integers
    /// with all six; a float, `!`, a literal on the left, an unknown function are refused.
    #[test]
    fn retry_expression_refused() {
        for expression in [
            "",
            "IsNetworkError",
            "Attempts()",
            "Attempts() < 2.0",
            "RequestMethod() < \"POST\"",
            "RequestMethod() == 1",
            "Attempts() == \"1\"",
            "!IsNetworkError()",
            "2 > Attempts()",
            "IsNetworkError(1)",
            "IsNetWorkError()",
            "IsNetworkError() && Attempts() <= 2 &&",
            "IsNetworkError()\n&& Attempts() <= 2",
        ] {
            assert!(
                RetryExpression::parse(expression).is_err(),
                "{expression:?} parsed"
            );
        }
        for expression in [
            "IsNetworkError() &&\nAttempts() <= 2",
            "IsNetworkError()\n",
            "(IsNetworkError())",
        ] {
            assert!(
                RetryExpression::parse(expression).is_ok(),
                "{expression:?} refused"
            );
        }
    }
}
