//! Record the commit the binary is built from, for `bakeoff --version` and `/healthz`:
//! `0123456789ab`, with `+dirty` when what the binary is built from (the Rust sources, the
//! migrations, the manifests) differs from that commit, or `BAKEOFF_COMMIT` from the environment
//! (a build outside a git checkout), else `unknown`.
//!
//! Why a binary once named a commit older than HEAD: it was built from a working tree with
//! changes not yet committed, and the commit of those changes came after the build. The commit
//! named was HEAD at build time, but nothing said the binary held more than that commit: hence
//! `+dirty`. (The build script also ran at every build, because it watched `.git/packed-refs`,
//! which a repository without packed refs does not have: cargo reruns a build script whose
//! watched file is missing, and then recompiles this crate.)
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the binary is built from, relative to the workspace root.
const SOURCES: [&str; 7] = [
    "server/src",
    "server/build.rs",
    "server/Cargo.toml",
    "app/src",
    "app/migrations",
    "app/Cargo.toml",
    "Cargo.lock",
];

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").current_dir("..").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=BAKEOFF_COMMIT");
    for s in SOURCES {
        println!("cargo:rerun-if-changed=../{s}");
    }
    if let Some(given) = std::env::var("BAKEOFF_COMMIT").ok().filter(|s| !s.trim().is_empty()) {
        println!("cargo:rustc-env=BAKEOFF_COMMIT={}", given.trim());
        return;
    }
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]).filter(|s| !s.is_empty()) else {
        println!("cargo:rustc-env=BAKEOFF_COMMIT=unknown");
        return;
    };
    // A new commit moves HEAD or the branch it names: watch those files, and only those that
    // exist (a missing watched file makes cargo rerun this script at every build).
    let git_dir = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from);
    let common_dir = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]).map(PathBuf::from);
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let mut watched: Vec<PathBuf> = Vec::new();
    if let Some(d) = &git_dir {
        watched.push(d.join("HEAD"));
    }
    if let Some(d) = common_dir.as_ref().or(git_dir.as_ref()) {
        if let Some(b) = &branch {
            watched.push(d.join(b));
        }
        watched.push(d.join("packed-refs"));
    }
    for p in watched.iter().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    // Without optional locks: this status never takes the index lock from a `git commit`.
    let mut args = vec!["--no-optional-locks", "status", "--porcelain", "--"];
    args.extend(SOURCES);
    let dirty = git(&args).is_some_and(|s| !s.is_empty());
    println!("cargo:rustc-env=BAKEOFF_COMMIT={commit}{}", if dirty { "+dirty" } else { "" });
}
