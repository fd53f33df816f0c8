//! The Argo CD and Flux objects the GitOps page of the book shows (the bootstrap
//! ApplicationSet, the plugin's Application) are valid against the CRDs, like the ones
//! Skipper renders: a reader copies them as they are.

use skipper_test_support::{validate_crds, workspace, write_tree};

/// The YAML blocks of a Markdown page that hold Kubernetes objects, unindented.
fn objects(page: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for line in page.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut current {
            None if trimmed == "```yaml" => current = Some((indent, String::new())),
            Some((_, text)) if trimmed == "```" => {
                if text.contains("\napiVersion: ") || text.starts_with("apiVersion: ") {
                    blocks.push(std::mem::take(text));
                }
                current = None;
            }
            Some((at, text)) => {
                text.push_str(line.get(*at..).unwrap_or_default());
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn the_objects_the_book_shows_validate() {
    let page = std::fs::read_to_string(workspace().join("book/src/targets/gitops.md")).unwrap();
    let blocks: Vec<String> = objects(&page)
        .into_iter()
        .filter(|b| b.contains("argoproj.io/") || b.contains("toolkit.fluxcd.io/"))
        .collect();
    assert!(blocks.iter().any(|b| b.contains("kind: ApplicationSet")), "{blocks:#?}");
    assert!(blocks.iter().any(|b| b.contains("name: skipper-v1")), "{blocks:#?}");
    let dir = write_tree(blocks.iter().enumerate().map(|(i, block)| (format!("{i}.yaml"), block)));
    let stdout = validate_crds(&[], &[dir.path()]);
    let expected = format!("validate-crds: {} objects checked, 0 failed", blocks.len());
    assert_eq!(stdout.lines().last(), Some(expected.as_str()), "{stdout}");
}
