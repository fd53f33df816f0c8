//! The user book's internal links lead somewhere: mdbook builds a page with a dead
//! relative link without complaint, so this checks every one.

use std::path::{Path, PathBuf};

fn pages(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            pages(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

#[test]
fn every_relative_link_in_the_book_resolves() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src");
    let mut all = Vec::new();
    pages(&src, &mut all);
    assert!(all.len() > 20, "the book has its pages");
    let mut dead = Vec::new();
    for page in &all {
        let text = std::fs::read_to_string(page).unwrap();
        let mut in_code = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
            }
            if in_code {
                continue;
            }
            for (i, _) in line.match_indices("](") {
                let rest = &line[i + 2..];
                let Some(end) = rest.find(')') else { continue };
                let target = rest[..end].split('#').next().unwrap_or_default();
                if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                if !page.parent().unwrap().join(target).exists() {
                    dead.push(format!("{}: {target}", page.strip_prefix(&src).unwrap().display()));
                }
            }
        }
    }
    assert!(dead.is_empty(), "dead links:\n{}", dead.join("\n"));
}
