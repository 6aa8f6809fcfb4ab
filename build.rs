//! Links the binaries with packed relative relocations (`DT_RELR`) where the toolchain and the
//! C library support them.
//!
//! godzilla is a position-independent executable of ~24 MB with ~36,000 relative relocations:
//! 860 KB of `RELA` entries the dynamic loader reads and applies on every start, about a third
//! of what `godzilla --version` costs (#13: every `step run` pays it). `DT_RELR` encodes the
//! same relocations in a few kilobytes, and the binary stays position-independent (ASLR kept,
//! unlike `-no-pie`). It needs GNU ld 2.38 or lld 15 and glibc 2.36, so a small program is
//! linked and run with the flag first; without support the flag is simply not used.

#![allow(
    clippy::disallowed_methods,
    reason = "a build script: cargo's environment, its own OUT_DIR and the C compiler, none of godzilla's services"
)]

use std::path::PathBuf;
use std::process::Command;

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GODZILLA_NO_RELR");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    // Only where the probe can run what it linked: a native Linux GNU build.
    if target != host
        || !target.ends_with("-linux-gnu")
        || std::env::var_os("GODZILLA_NO_RELR").is_some()
    {
        return;
    }
    if supported() {
        println!("cargo:rustc-link-arg-bins={FLAG}");
    } else {
        println!(
            "cargo:warning=linking without packed relative relocations (DT_RELR): the C toolchain or library lacks them; start-up is slower"
        );
    }
}

/// Whether a C program linked with the flag links, carries `DT_RELR`-only relocations, and runs.
fn supported() -> bool {
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return false;
    };
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let source = out.join("relr_probe.c");
    let binary = out.join("relr_probe");
    // A pointer in initialized data: a relative relocation for the loader to apply.
    let program = "static int x = 7; int *p = &x; int main(void) { return *p == 7 ? 0 : 1; }\n";
    if std::fs::write(&source, program).is_err() {
        return false;
    }
    let linked = Command::new(&cc)
        .args(["-fPIE", "-pie", FLAG, "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .is_ok_and(|o| o.status.success());
    linked && Command::new(&binary).status().is_ok_and(|s| s.success())
}
