//! The library's layers import only downwards: `abi` < `mem` < `api` <
//! `driver` < `ports` (ARCHITECTURE.md). A path to a higher layer anywhere
//! in a lower layer's files fails this test, naming the file and line.

use std::path::Path;

/// Each layer's source, and the layers it must not name.
const RULES: &[(&str, &[&str])] = &[
    ("src/abi.rs", &["mem", "api", "driver", "ports"]),
    ("src/mem", &["api", "driver", "ports"]),
    ("src/api", &["driver", "ports"]),
    ("src/driver", &["ports"]),
];

fn rust_files(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// `(file, line number, line)` for every line of `layer` naming a
/// forbidden layer as `crate::X` or `vfio_netmap::X`.
fn violations(layer: &str, forbidden: &[&str]) -> Vec<(String, usize, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join(layer), &mut files);
    assert!(!files.is_empty(), "no sources under {layer}");
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let bad = forbidden.iter().any(|up| {
                [format!("crate::{up}"), format!("vfio_netmap::{up}")]
                    .iter()
                    .any(|path| {
                        code.match_indices(path.as_str()).any(|(at, _)| {
                            let rest = &code[at + path.len()..];
                            !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                        })
                    })
            });
            if bad {
                found.push((file.display().to_string(), n + 1, line.trim().to_string()));
            }
        }
    }
    found
}

#[test]
fn no_layer_imports_a_layer_above_it() {
    let mut all = Vec::new();
    for (layer, forbidden) in RULES {
        all.extend(violations(layer, forbidden));
    }
    assert!(
        all.is_empty(),
        "imports that run up the layers:\n{}",
        all.iter()
            .map(|(f, n, l)| format!("  {f}:{n}: {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    // The rule itself must be able to fail: the ports layer names the
    // driver (downwards, allowed), so checking it as if it were below the
    // driver finds those lines.
    assert!(!violations("src/ports", &["driver"]).is_empty());
    assert!(violations("src/ports", &["driverx"]).is_empty());
}
