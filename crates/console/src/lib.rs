//! The web console (`web/`), built at compile time and embedded: `rollcall serve` serves it and the
//! AWS deployment uploads it to the console's S3 bucket. One build serves every deployment; the
//! console reads its settings from `/console-config.json` at start.

include!(concat!(env!("OUT_DIR"), "/files.rs"));

/// One file of the console build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The file's bytes.
    pub bytes: &'static [u8],
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// True for the content-hashed files under `assets/`: they never change, so they may be cached
    /// for a year. `index.html` is not: it names the current hashed files.
    pub immutable: bool,
}

/// The `Cache-Control` of an asset.
impl Asset {
    pub fn cache_control(&self) -> &'static str {
        if self.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }
    }
}

/// The file at `path` (relative, without a leading `/`, e.g. `assets/index-abc.js`).
pub fn asset(path: &str) -> Option<Asset> {
    let path = path.trim_start_matches('/');
    FILES
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .map(|i| make(FILES[i].0, FILES[i].1))
}

/// The page every console route (`/console/...`, `/accept`, `/join`, `/signin`, ...) is served by.
pub fn index_html() -> Asset {
    asset("index.html").expect("the build script checks that index.html exists")
}

/// Every file of the build, by path.
pub fn files() -> impl Iterator<Item = (&'static str, Asset)> {
    FILES.iter().map(|(p, b)| (*p, make(p, b)))
}

fn make(path: &'static str, bytes: &'static [u8]) -> Asset {
    Asset {
        bytes,
        content_type: content_type(path),
        immutable: path.starts_with("assets/"),
    }
}

/// The `Content-Type` of a file of the build, by extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_has_an_index_page_naming_its_hashed_assets() {
        let index = std::str::from_utf8(index_html().bytes).expect("utf-8");
        assert!(index.contains("<div id=\"app\">"));
        let scripts: Vec<_> = files()
            .filter(|(p, _)| p.starts_with("assets/") && p.ends_with(".js"))
            .collect();
        assert!(!scripts.is_empty(), "the build has scripts under assets/");
        assert!(
            scripts
                .iter()
                .any(|(p, _)| index.contains(&format!("/{p}"))),
            "index.html loads a built script"
        );
        assert!(
            !index.contains("<script>"),
            "no inline script (the CSP forbids it)"
        );
    }

    #[test]
    fn hashed_assets_are_immutable_and_the_index_is_not() {
        assert!(!index_html().immutable);
        assert_eq!(index_html().cache_control(), "no-cache");
        for (path, a) in files().filter(|(p, _)| p.starts_with("assets/")) {
            assert!(a.immutable, "{path}");
            assert_ne!(a.content_type, "application/octet-stream", "{path}");
        }
        assert_eq!(asset("/index.html"), Some(index_html()));
        assert_eq!(asset("nope.js"), None);
    }
}
