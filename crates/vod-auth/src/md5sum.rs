//! MD5 of stored content (objects, multipart parts, pulled files): RustCrypto md-5 0.10 with
//! its assembly compression function on x86/x86_64, the hot loop of every upload.

use md5_fast::Digest as _;

/// Streaming MD5 of bulk content.
#[derive(Clone, Default)]
pub struct Md5(md5_fast::Md5);

impl Md5 {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything fed so far.
    pub fn finalize(self) -> [u8; 16] {
        self.0.finalize().into()
    }
}

impl std::fmt::Debug for Md5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Md5")
    }
}

/// One-shot MD5 of `data`.
pub fn md5(data: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(data);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors() {
        assert_eq!(hex::encode(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            hex::encode(md5(b"The quick brown fox jumps over the lazy dog")),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }

    #[test]
    fn streaming_matches_one_shot_and_md5_0_11() {
        use md5::Digest as _;
        let data: Vec<u8> = (0..100_003u32).map(|i| (i * 131 % 253) as u8).collect();
        let mut h = Md5::new();
        for chunk in data.chunks(4099) {
            h.update(chunk);
        }
        let reference: [u8; 16] = md5::Md5::digest(&data).into();
        assert_eq!(h.clone().finalize(), md5(&data));
        assert_eq!(h.finalize(), reference);
    }
}
