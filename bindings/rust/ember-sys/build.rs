//! Finds libember.so and its header, tells rustc to link it, checks which optional
//! parts of the API the library exports, and measures the C structs for the layout test.
//!
//! Where the library is (first match wins):
//!   1. EMBER_LIB_DIR (the folder holding libember.so) and EMBER_INCLUDE_DIR (the folder
//!      holding ember.h; default EMBER_LIB_DIR/../include/ember);
//!   2. `pkg-config --libs-only-L --cflags-only-I ember` (an installed ember.pc, or
//!      ember-uninstalled.pc of a build folder on PKG_CONFIG_PATH), parsed here;
//!   3. the linker's default search path and /usr/include/ember, /usr/local/include/ember.
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn pkg_config(args: &[&str]) -> Option<String> {
    let out = Command::new(env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into()))
        .args(args)
        .arg("ember")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}

/// Values of `flag` (e.g. "-L") in a pkg-config output line.
fn flag_values(line: &str, flag: &str) -> Vec<PathBuf> {
    line.split_whitespace()
        .filter_map(|w| w.strip_prefix(flag))
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .collect()
}

fn locate() -> (Vec<PathBuf>, Vec<PathBuf>) {
    if let Ok(lib) = env::var("EMBER_LIB_DIR") {
        let lib = PathBuf::from(lib);
        let inc = env::var("EMBER_INCLUDE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| lib.join("../include/ember"));
        return (vec![lib], vec![inc]);
    }
    if let (Some(l), Some(i)) = (pkg_config(&["--libs-only-L"]), pkg_config(&["--cflags-only-I"])) {
        return (flag_values(&l, "-L"), flag_values(&i, "-I"));
    }
    println!("cargo:warning=ember-sys: neither EMBER_LIB_DIR nor `pkg-config ember` found; using the default paths");
    (vec![], vec![PathBuf::from("/usr/local/include/ember"), PathBuf::from("/usr/include/ember")])
}

/// Whether the library exports `symbol` (nm -D). None when it cannot be told.
fn exports(lib_dirs: &[PathBuf], symbol: &str) -> Option<bool> {
    let lib = lib_dirs.iter().map(|d| d.join("libember.so")).find(|p| p.exists())?;
    let out = Command::new("nm").args(["-D", "--defined-only"]).arg(&lib).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().any(|l| {
        l.split_whitespace().last().map(|s| s.split('@').next() == Some(symbol)) == Some(true)
    }))
}

/// Compiles and runs layout.c against the header: it prints the sizes and field offsets
/// of the C structs as Rust source, which tests/layout.rs compares with ember-sys's.
fn measure_layout(inc_dirs: &[PathBuf], out_dir: &Path) -> Result<String, String> {
    let exe = out_dir.join("ember_layout");
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    for d in inc_dirs {
        cmd.arg("-I").arg(d);
    }
    let status = cmd
        .arg("layout.c")
        .arg("-o")
        .arg(&exe)
        .status()
        .map_err(|e| format!("cannot run {}: {}", cc, e))?;
    if !status.success() {
        return Err(format!("{} layout.c failed", cc));
    }
    let out = Command::new(&exe).output().map_err(|e| e.to_string())?;
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

fn main() {
    for v in ["EMBER_LIB_DIR", "EMBER_INCLUDE_DIR", "PKG_CONFIG_PATH", "CC"] {
        println!("cargo:rerun-if-env-changed={}", v);
    }
    println!("cargo:rerun-if-changed=layout.c");
    println!("cargo:rerun-if-changed=build.rs");
    let (lib_dirs, inc_dirs) = locate();
    for d in &lib_dirs {
        println!("cargo:rustc-link-search=native={}", d.display());
        if d.join("libember.so").exists() {
            println!("cargo:rerun-if-changed={}", d.join("libember.so").display());
        }
    }
    println!("cargo:rustc-link-lib=dylib=ember");
    for d in &inc_dirs {
        if d.join("ember.h").exists() {
            println!("cargo:rerun-if-changed={}", d.join("ember.h").display());
            println!("cargo:include={}", d.display());
        }
    }

    // The image functions (ember_image_*, preprocess, top-k, labels) are declared in
    // ember.h but may be missing from an older libember.so: then ember-sys declares
    // stand-ins that return EMBER_ERR_UNSUPPORTED, so programs still link.
    let image = exports(&lib_dirs, "ember_image_load_file").unwrap_or(true);
    println!("cargo:rustc-check-cfg=cfg(ember_image)");
    if image {
        println!("cargo:rustc-cfg=ember_image");
    } else {
        println!("cargo:warning=ember-sys: libember.so has no ember_image_* functions; image calls return EMBER_ERR_UNSUPPORTED");
    }

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let layout = match measure_layout(&inc_dirs, &out_dir) {
        Ok(src) => src,
        Err(e) => {
            println!("cargo:warning=ember-sys: C layout not measured ({}); the layout test will fail", e);
            "pub const C_LAYOUT: Option<&[(&str, usize)]> = None;\n".to_string()
        }
    };
    fs::write(out_dir.join("c_layout.rs"), layout).expect("write c_layout.rs");
}
