//! Finds libember.so and its header, tells rustc to link it, checks which optional
//! parts of the API the library exports, and, for tests/layout.rs, measures every struct
//! that ember.h declares (a C program generated from the header's own declarations) and
//! lists every function it declares.
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

/// The names the library exports (nm -D). None when it cannot be told.
fn exported_symbols(lib_dirs: &[PathBuf]) -> Option<Vec<String>> {
    let lib = lib_dirs.iter().map(|d| d.join("libember.so")).find(|p| p.exists())?;
    let out = Command::new("nm").args(["-D", "--defined-only"]).arg(&lib).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter_map(|l| l.split_whitespace().last())
            .map(|s| s.split('@').next().unwrap_or(s).to_string())
            .collect(),
    )
}

/// The minor version of the rustc building this crate (1.x), 0 if unknown.
fn rustc_minor() -> u32 {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split_whitespace().nth(1).and_then(|n| n.split('.').nth(1)).and_then(|m| m.parse().ok()))
        .unwrap_or(0)
}

/// The header with its comments removed.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    loop {
        let block = rest.find("/*");
        let line = rest.find("//");
        match (block, line) {
            (Some(b), l) if l.map_or(true, |l| b < l) => {
                out.push_str(&rest[..b]);
                rest = rest[b + 2..].find("*/").map_or("", |e| &rest[b + 2 + e + 2..]);
                out.push(' ');
            }
            (_, Some(l)) => {
                out.push_str(&rest[..l]);
                rest = rest[l..].find('\n').map_or("", |e| &rest[l + e..]);
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The name a C declaration declares: `const char *const *dim_names` -> dim_names,
/// `void (*fn)(int)` -> fn, `int32_t pad[4]` -> pad.
fn declared_name(decl: &str) -> Option<String> {
    let decl = match decl.find("(*") {
        Some(p) => &decl[p + 2..],
        None => decl.split('[').next().unwrap_or(decl),
    };
    let decl = decl.split(')').next().unwrap_or(decl);
    let name: String = decl.trim_end().chars().rev().take_while(|&c| is_ident(c)).collect();
    let name: String = name.chars().rev().collect();
    if name.is_empty() {
        None
    } else {
        Some(name)
    }
}

/// What ember.h declares: its structs with their fields, its enums, and its functions.
struct Header {
    structs: Vec<(String, Vec<String>)>,
    enums: Vec<String>,
    functions: Vec<String>,
}

fn parse_header(src: &str) -> Header {
    let src = strip_comments(src);
    let mut h = Header { structs: Vec::new(), enums: Vec::new(), functions: Vec::new() };
    for (kw, is_struct) in [("typedef struct ", true), ("typedef enum ", false)] {
        let mut rest = src.as_str();
        while let Some(p) = rest.find(kw) {
            rest = &rest[p + kw.len()..];
            let name: String = rest.trim_start().chars().take_while(|&c| is_ident(c)).collect();
            let after = rest.trim_start()[name.len()..].trim_start();
            if !after.starts_with('{') {
                continue; // an opaque handle: typedef struct ember_model ember_model;
            }
            let body = &after[1..after.find('}').unwrap_or(after.len() - 1)];
            if is_struct {
                let fields = body.split(';').filter_map(|d| declared_name(d.trim())).collect();
                h.structs.push((name, fields));
            } else {
                h.enums.push(name);
            }
        }
    }
    let mut rest = src.as_str();
    while let Some(p) = rest.find("EMBER_API ") {
        rest = &rest[p + 10..];
        let head = &rest[..rest.find('(').unwrap_or(0)];
        if let Some(name) = declared_name(head) {
            if name.starts_with("ember_") {
                h.functions.push(name);
            }
        }
    }
    h
}

/// Writes, from the header's own declarations, a C program printing every struct's size
/// and field offsets and every enum's size as Rust source (compiled and run here; the
/// numbers go to tests/layout.rs), and a list of the header's functions that
/// tests/layout.rs takes the address of in ember-sys (a function missing there fails
/// to compile). Functions the library does not export yet (a header ahead of its
/// implementation) are left out of that list, with a warning.
fn measure_layout(
    header: &Path,
    inc_dirs: &[PathBuf],
    exported: Option<&Vec<String>>,
    out_dir: &Path,
) -> Result<(String, String), String> {
    let text = fs::read_to_string(header).map_err(|e| format!("{}: {}", header.display(), e))?;
    let h = parse_header(&text);
    let mut c = String::from("#include <stddef.h>\n#include <stdio.h>\n#include <ember.h>\nint main(void) {\n");
    c.push_str("    printf(\"pub const C_LAYOUT: Option<&[(&str, usize)]> = Some(&[\\n\");\n");
    let line = |label: &str, expr: &str| format!("    printf(\"    (\\\"{}\\\", %zu),\\n\", (size_t)({}));\n", label, expr);
    for e in &h.enums {
        c.push_str(&line(e, &format!("sizeof({})", e)));
    }
    for (s, fields) in &h.structs {
        c.push_str(&line(s, &format!("sizeof({})", s)));
        for f in fields {
            c.push_str(&line(&format!("{}.{}", s, f), &format!("offsetof({}, {})", s, f)));
        }
    }
    c.push_str("    printf(\"]);\\n\");\n    return 0;\n}\n");
    let c_path = out_dir.join("layout.c");
    fs::write(&c_path, c).map_err(|e| e.to_string())?;

    let exe = out_dir.join("ember_layout");
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    for d in inc_dirs {
        cmd.arg("-I").arg(d);
    }
    let status = cmd.arg(&c_path).arg("-o").arg(&exe).status().map_err(|e| format!("cannot run {}: {}", cc, e))?;
    if !status.success() {
        return Err(format!("{} {} failed", cc, c_path.display()));
    }
    let out = Command::new(&exe).output().map_err(|e| e.to_string())?;
    let layout = String::from_utf8(out.stdout).map_err(|e| e.to_string())?;
    let mut fns = String::from("/// Every function api/ember.h declares (generated by build.rs).\n#[allow(dead_code)]\nfn header_functions() -> Vec<(&'static str, usize)> {\n    vec![\n");
    for f in h.functions.iter().filter(|f| exported.map_or(true, |e| e.contains(*f))) {
        fns.push_str(&format!("        (\"{0}\", ember_sys::{0} as *const () as usize),\n", f));
    }
    fns.push_str("    ]\n}\n");
    if let Some(e) = exported {
        let missing: Vec<&String> = h.functions.iter().filter(|f| !e.contains(*f)).collect();
        if !missing.is_empty() {
            println!("cargo:warning=ember-sys: ember.h declares functions libember.so does not export: {:?}", missing);
        }
    }
    Ok((layout, fns))
}

fn main() {
    for v in ["EMBER_LIB_DIR", "EMBER_INCLUDE_DIR", "PKG_CONFIG_PATH", "CC", "EMBER_SYS_NO_IMAGE_API"] {
        println!("cargo:rerun-if-env-changed={}", v);
    }
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

    let exported = exported_symbols(&lib_dirs);
    // The image functions (ember_image_*, preprocess, top-k, labels) are declared in
    // ember.h but may be missing from an older libember.so: then ember-sys declares
    // stand-ins that return EMBER_ERR_UNSUPPORTED, so programs still link.
    // EMBER_SYS_NO_IMAGE_API=1 forces the stand-ins (to test that path).
    let image = env::var("EMBER_SYS_NO_IMAGE_API").map_or(true, |v| v != "1")
        && exported.as_ref().map_or(true, |e| e.iter().any(|s| s == "ember_image_load_file"));
    if rustc_minor() >= 80 {
        println!("cargo:rustc-check-cfg=cfg(ember_image)"); // known to the unexpected_cfgs lint
    }
    if image {
        println!("cargo:rustc-cfg=ember_image");
    } else {
        println!("cargo:warning=ember-sys: libember.so has no ember_image_* functions; image calls return EMBER_ERR_UNSUPPORTED");
    }

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let header = inc_dirs.iter().map(|d| d.join("ember.h")).find(|p| p.exists());
    let measured = match &header {
        Some(h) => measure_layout(h, &inc_dirs, exported.as_ref(), &out_dir),
        None => Err("ember.h not found".to_string()),
    };
    let (layout, fns) = measured.unwrap_or_else(|e| {
        println!("cargo:warning=ember-sys: C layout not measured ({}); the layout test will fail", e);
        (
            "pub const C_LAYOUT: Option<&[(&str, usize)]> = None;\n".to_string(),
            "#[allow(dead_code)]\nfn header_functions() -> Vec<(&'static str, usize)> { Vec::new() }\n".to_string(),
        )
    });
    fs::write(out_dir.join("c_layout.rs"), layout).expect("write c_layout.rs");
    fs::write(out_dir.join("header_functions.rs"), fns).expect("write header_functions.rs");
}
