//! Builds the web console (`web/`, TypeScript + Vite) with npm and embeds every file of the build.
//! `npm ci` runs when `web/node_modules` is missing or older than `web/package-lock.json`; the
//! build goes to `$OUT_DIR/console`, so the source tree only gains `web/node_modules`.
//!
//! `ROLLCALL_CONSOLE_DIST=<dir>` embeds an existing build instead (for packaging environments
//! without Node; the directory must hold a complete `npm run build` output).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let web = manifest.join("../../web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-env-changed=ROLLCALL_CONSOLE_DIST");
    for watched in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
        "public",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(watched).display());
    }

    let dist = match std::env::var_os("ROLLCALL_CONSOLE_DIST") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dist = out.join("console");
            build_with_npm(&web, &dist);
            dist
        }
    };
    if !dist.join("index.html").is_file() {
        panic!(
            "{}: no index.html; the console build is incomplete",
            dist.display()
        );
    }

    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    let mut code = String::from(
        "/// Every file of the console build: (path, bytes).\npub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in &files {
        writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        )
        .expect("write to String");
    }
    code.push_str("];\n");
    std::fs::write(out.join("files.rs"), code).expect("write files.rs");
}

fn build_with_npm(web: &Path, dist: &Path) {
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    let stale = match (
        std::fs::metadata(&lock).and_then(|m| m.modified()),
        std::fs::metadata(&installed).and_then(|m| m.modified()),
    ) {
        (Ok(l), Ok(i)) => l > i,
        _ => true,
    };
    if stale {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(web),
            "npm ci",
        );
    }
    run(
        Command::new("npm")
            .args(["run", "--silent", "build"])
            .env("ROLLCALL_CONSOLE_OUT_DIR", dist)
            .current_dir(web),
        "npm run build",
    );
}

fn run(cmd: &mut Command, what: &str) {
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{what} in web/ failed ({s}); the console needs Node 20+ and npm"),
        Err(e) => {
            panic!("cannot run {what} in web/: {e}; the console needs Node 20+ and npm on PATH")
        }
    }
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("read_dir entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            files.push((rel, path));
        }
    }
}
