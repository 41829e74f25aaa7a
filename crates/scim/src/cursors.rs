//! `startIndex` paging over the store's cursor paging: the cursors a process has seen, by
//! (organization, 0-based position), so that the page starting where the last one ended is one
//! read ([`rollcall_domain::ports::ListCursors`], used by the domain's `Service::scim_list`).
//! Entries expire after [`CURSOR_TTL`]; at most [`MAX_CURSORS`] are kept.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rollcall_domain::ids::OrgId;
use rollcall_domain::ports::ListCursors;

/// How long a cached list cursor is used.
pub const CURSOR_TTL: Duration = Duration::from_secs(15 * 60);
/// Most cached list cursors (across organizations).
pub const MAX_CURSORS: usize = 4096;

type Entries = HashMap<(OrgId, usize), (String, Instant)>;

/// The list cursors of one process (shared by its requests).
#[derive(Default)]
pub struct CursorCache {
    entries: Mutex<Entries>,
}

impl CursorCache {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ListCursors for CursorCache {
    fn nearest(&self, org: &OrgId, position: usize) -> Option<(usize, String)> {
        let map = self.lock();
        map.iter()
            .filter(|((o, at), (_, t))| o == org && *at <= position && t.elapsed() < CURSOR_TTL)
            .max_by_key(|((_, at), _)| *at)
            .map(|((_, at), (c, _))| (*at, c.clone()))
    }

    fn put(&self, org: &OrgId, position: usize, cursor: &str) {
        let mut map = self.lock();
        if map.len() >= MAX_CURSORS {
            map.retain(|_, (_, t)| t.elapsed() < CURSOR_TTL);
        }
        if map.len() >= MAX_CURSORS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert((org.clone(), position), (cursor.to_owned(), Instant::now()));
    }

    fn forget(&self, org: &OrgId) {
        self.lock().retain(|(o, _), _| o != org);
    }
}
