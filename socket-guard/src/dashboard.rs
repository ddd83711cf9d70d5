//! socket-guard's decisions page on its admin listener (`/dashboard/`, the sheet shared with
//! the router's dashboard, [`ui`]): recent decisions, refusals with the variable that would
//! allow each, counts per client and endpoint, and the policy in force. It reads
//! `/decisions` ([`crate::decisions`]).

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, LOCATION};
use hyper::{Response, StatusCode};

use crate::body::{GuardBody, GuardBodyExt};

const PAGE: ui::Page = ui::Page {
    html: include_str!("dashboard/index.html"),
    script: include_str!("dashboard/app.js"),
};

/// The answer for `path` when it is the page's; `None` otherwise.
pub fn answer(path: &str) -> Option<Response<GuardBody>> {
    let rest = match path {
        "/" => "",
        p => p.strip_prefix("/dashboard")?,
    };
    match PAGE.answer(rest)? {
        ui::Answer::Redirect(_) => {
            let mut r = Response::new(GuardBody::empty());
            *r.status_mut() = StatusCode::FOUND;
            r.headers_mut()
                .insert(LOCATION, HeaderValue::from_static("/dashboard/"));
            Some(r)
        }
        ui::Answer::File(a) => {
            let mut r = Response::new(GuardBody::full(Bytes::from_static(a.body.as_bytes())));
            let h = r.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(a.content_type));
            for (name, value) in ui::HEADERS {
                h.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            Some(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_served_under_its_path_and_the_root_leads_to_it() {
        assert_eq!(answer("/").map(|r| r.status()), Some(StatusCode::FOUND));
        assert_eq!(
            answer("/dashboard/app.js").map(|r| r.status()),
            Some(StatusCode::OK)
        );
        assert!(answer("/dashboard/x").is_none());
        assert!(answer("/metrics").is_none());
        assert!(!PAGE.script.contains("innerHTML"));
    }
}
