//! The dashboard's files (`dashboard/` and the sheet shared with socket-guard, [`ui`]),
//! compiled in: served at `/dashboard/` by `api@internal` and `dashboard@internal` (as Traefik
//! serves its own) and on the admin listener. The page reads the API next to it (`../api/...`).

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::StatusCode;

use crate::proxy::Answer;

const PAGE: ui::Page = ui::Page {
    html: include_str!("dashboard/index.html"),
    script: include_str!("dashboard/app.js"),
};

/// The answer for `path` (as received) when it is the dashboard's; `None` otherwise.
pub fn answer(path: &str) -> Option<Answer> {
    let mut headers = HeaderMap::new();
    match PAGE.answer(path.strip_prefix("/dashboard")?)? {
        ui::Answer::Redirect(to) => {
            headers.insert(
                header::LOCATION,
                HeaderValue::from_static(if to == "/" { "/dashboard/" } else { to }),
            );
            Some(Answer {
                status: StatusCode::MOVED_PERMANENTLY,
                headers,
                body: Bytes::new(),
            })
        }
        ui::Answer::File(a) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(a.content_type),
            );
            for (name, value) in ui::HEADERS {
                headers.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            Some(Answer {
                status: StatusCode::OK,
                headers,
                body: Bytes::from_static(a.body.as_bytes()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_is_served_under_its_path_only() {
        let a = answer("/dashboard/app.js").map(|a| a.headers);
        assert!(a.is_some_and(|h| h.contains_key(header::CONTENT_SECURITY_POLICY)));
        assert_eq!(
            answer("/dashboard").map(|a| a.status),
            Some(StatusCode::MOVED_PERMANENTLY)
        );
        assert!(answer("/dashboardx/").is_none());
        assert!(answer("/api/overview").is_none());
    }

    #[test]
    fn text_from_the_api_goes_in_as_text() {
        assert!(!PAGE.script.contains("innerHTML") && !PAGE.script.contains("eval("));
    }
}
