//! Small manifests shared by the unit tests.

/// A Pod with one container per image, each image single-quoted in a flow mapping.
pub fn pod(images: &[&str]) -> String {
    let containers: String = images
        .iter()
        .enumerate()
        .map(|(i, image)| format!("  - {{name: c{i}, image: '{image}'}}\n"))
        .collect();
    format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n{containers}")
}
