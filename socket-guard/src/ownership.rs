//! What owned objects ([`policies::owner`], `GUARD_OWNER`) need from the daemon: the labels of
//! a network, volume, service, secret, config or image a request names. Containers and execs
//! are judged by the visible scope ([`crate::visibility`]), which carries the owner label.

use crate::error::GuardError;
use crate::redaction::ScopeAnswer;
use crate::server::State;
use crate::visibility::{inspect, leak, segment, upstream_err};
use policies::endpoint::Endpoint;
use policies::owner::{classify, rename_object, Kind, Owner, OwnerTouch};
use policies::path::Target;

/// An image name as a path: its `/` kept (the daemon's route spans segments), the rest of
/// what is not unreserved escaped.
fn image_path(name: &str) -> String {
    name.split('/').map(segment).collect::<Vec<_>>().join("/")
}

/// The full ID of object `id` of `kind` when `owner` owns it (`Some("")` for an image, which
/// is forwarded by the name the client used); `None` when it does not exist or is another's.
async fn owned(
    state: &State,
    owner: &Owner,
    kind: Kind,
    id: &str,
) -> Result<Option<String>, GuardError> {
    let escaped = match kind {
        Kind::Image => image_path(id),
        _ => segment(id),
    };
    let Some(doc) = inspect(state, &kind.inspect_path(&escaped)).await? else {
        return Ok(None);
    };
    if !owner.owns(kind.labels(&doc)) {
        return Ok(None);
    }
    Ok(Some(kind.forward_id(&doc).unwrap_or_default().to_owned()))
}

/// Judges an allowed request against the owner: the target to forward instead (a list with
/// the owner's label filter, `/build` with the owner's label, an object by the full ID it
/// was checked by) and how the answer is to be filtered. An object of another owner is a 404
/// in the daemon's words; what reaches every owner's objects is refused.
pub async fn judge(
    state: &State,
    owner: &Owner,
    target: &Target,
    endpoint: Option<&'static Endpoint>,
) -> Result<(Option<Target>, Option<ScopeAnswer>), GuardError> {
    let query = target.query().map(str::to_owned);
    Ok(match classify(endpoint, target.path()) {
        OwnerTouch::Nothing | OwnerTouch::Stamp(_) => (None, None),
        OwnerTouch::Refused(why) => return Err(GuardError::OutOfScope(why)),
        OwnerTouch::Build => {
            let q = owner
                .stamp_build_query(target.query())
                .map_err(|e| match e {
                    policies::owner::StampError::Forbidden(why) => GuardError::NotOwned(why),
                    policies::owner::StampError::Malformed(m) => GuardError::BadOwnedRequest(m),
                })?;
            (
                Some(target.rewritten(target.path().to_owned(), Some(q))),
                None,
            )
        }
        OwnerTouch::List(kind) => {
            let q = policies::scope::with_label_filters(target.query(), &[owner.selector()])
                .map_err(|e| GuardError::OutOfScope(leak(e.0)))?;
            (
                Some(target.rewritten(target.path().to_owned(), Some(q))),
                Some(ScopeAnswer::Owned(owner.clone(), kind)),
            )
        }
        OwnerTouch::Object(kind, id) => match owned(state, owner, kind, &id).await? {
            None => return Err(GuardError::NotVisible(kind.not_found(&id))),
            Some(full) if full.is_empty() => (None, None),
            Some(full) => {
                let path = endpoint
                    .and_then(|e| rename_object(e.pattern, &full))
                    .ok_or_else(|| upstream_err("an object path without its id"))?;
                (Some(target.rewritten(path, query)), None)
            }
        },
    })
}
