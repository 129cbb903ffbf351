//! Private HMAC and digest helpers shared by the signature modules.

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

const ANY_KEY_LEN: &str = "HMAC accepts keys of any length";

pub(crate) fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect(ANY_KEY_LEN);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect(ANY_KEY_LEN);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub(crate) fn md5_hex(data: &[u8]) -> String {
    hex32(&Md5::digest(data))
}

/// Lowercase hex of a digest of at most 32 bytes, through `hex`'s slice encoder (its
/// `encode` goes through a char iterator, measurable on the gateway's hot path).
pub(crate) fn hex32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex32(&mut out, bytes);
    out
}

/// Appends the lowercase hex of a digest of at most 32 bytes to `out`.
pub(crate) fn push_hex32(out: &mut String, bytes: &[u8]) {
    let mut buf = [0u8; 64];
    out.push_str(hex32_buf(bytes, &mut buf));
}

/// The lowercase hex of a digest of at most 32 bytes, written into `buf`.
pub(crate) fn hex32_buf<'a>(bytes: &[u8], buf: &'a mut [u8; 64]) -> &'a str {
    let out = &mut buf[..bytes.len() * 2];
    hex::encode_to_slice(bytes, out).expect("the output is twice the input");
    std::str::from_utf8(out).expect("hex digits are ASCII")
}
