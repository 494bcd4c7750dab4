//! The hash that names a pod template's revision, as kube-controller-manager's
//! `controller.ComputeHash` makes it: FNV-32a over the template (here its JSON, since Go's
//! object dump cannot be reproduced), followed by the collision count when there is one,
//! printed in decimal and then spelled with `rand.SafeEncodeString`'s alphabet so that the
//! result has no vowels and never looks like a word. The value goes into the
//! `controller-revision-hash` (DaemonSet, StatefulSet) and `pod-template-hash` labels.

use std::io::Write;

use k8s_openapi::api::core::v1::PodTemplateSpec;

const FNV_OFFSET_BASIS: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// The alphabet of apimachinery's `rand.SafeEncodeString`: no vowels, and no digits or
/// letters that are easily confused with one another.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

struct Fnv32a(u32);

impl Write for Fnv32a {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for byte in bytes {
            self.0 ^= u32::from(*byte);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The template's revision hash. A collision count (the owner's `status.collisionCount`)
/// changes the hash, which is how Kubernetes steps around two templates that hash alike.
pub fn pod_template_hash(
    template: &PodTemplateSpec,
    collision_count: Option<i32>,
) -> Result<String, serde_json::Error> {
    let mut hasher = Fnv32a(FNV_OFFSET_BASIS);
    serde_json::to_writer(&mut hasher, template)?;
    if let Some(count) = collision_count {
        // Kubernetes writes the count as a little-endian uint32 into eight bytes.
        let mut count_bytes = [0u8; 8];
        count_bytes[..4].copy_from_slice(&count.cast_unsigned().to_le_bytes());
        hasher.0 = count_bytes.iter().fold(hasher.0, |hash, byte| {
            (hash ^ u32::from(*byte)).wrapping_mul(FNV_PRIME)
        });
    }
    Ok(safe_encode(&hasher.0.to_string()))
}

/// `rand.SafeEncodeString`: each character replaced by the alphabet's letter at its code
/// modulo the alphabet's length.
fn safe_encode(text: &str) -> String {
    text.chars()
        .map(|character| {
            let index = (character as usize) % SAFE_ALPHABET.len();
            char::from(SAFE_ALPHABET[index])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": image}]},
        }))
        .expect("a template")
    }

    #[test]
    fn the_hash_follows_the_template_and_the_collision_count() {
        let first = pod_template_hash(&template("a"), None).expect("a hash");
        assert_eq!(
            first,
            pod_template_hash(&template("a"), None).expect("a hash")
        );
        assert_ne!(
            first,
            pod_template_hash(&template("b"), None).expect("a hash")
        );
        assert_ne!(
            first,
            pod_template_hash(&template("a"), Some(1)).expect("a hash")
        );
        assert!(first.bytes().all(|byte| SAFE_ALPHABET.contains(&byte)));
    }

    #[test]
    fn safe_encoding_matches_apimachinery() {
        // In Go, SafeEncodeString("0123456789"): '0' is 48, 48 % 27 = 21, the alphabet's
        // '4'; '6' is 54, 54 % 27 = 0, its 'b'.
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }
}
