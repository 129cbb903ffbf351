//! CRC-64/XZ (ECMA-182, reflected; OSS `x-oss-hash-crc64ecma`) hashing and
//! zlib-style combination of CRCs of concatenated data. Hashing is crc64fast's carry-less
//! multiply (PCLMULQDQ / PMULL) path, several times the speed of a table, with a table fallback
//! on CPUs without it.

/// Reflected ECMA-182 polynomial (0x42F0E1EBA9EA3693 bit-reversed).
const POLY_REFLECTED: u64 = 0xC96C_5795_D787_0F42;

/// Streaming CRC-64/XZ hasher.
#[derive(Clone)]
pub struct Crc64 {
    digest: crc64fast::Digest,
    len: u64,
}

impl Crc64 {
    pub fn new() -> Self {
        Self {
            digest: crc64fast::Digest::new(),
            len: 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.digest.write(data);
        self.len += data.len() as u64;
    }

    /// The CRC of everything fed so far (the hasher stays usable).
    pub fn finish(&self) -> u64 {
        self.digest.sum64()
    }

    /// Number of bytes fed so far (the `len2` to pass to [`combine`]).
    pub fn bytes_hashed(&self) -> u64 {
        self.len
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crc64")
            .field("crc", &self.finish())
            .field("len", &self.len)
            .finish()
    }
}

/// One-shot CRC-64/XZ of `data`.
pub fn checksum(data: &[u8]) -> u64 {
    let mut digest = crc64fast::Digest::new();
    digest.write(data);
    digest.sum64()
}

fn gf2_matrix_times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut row = mat.iter();
    while vec != 0 {
        let Some(m) = row.next() else { break };
        if vec & 1 != 0 {
            sum ^= m;
        }
        vec >>= 1;
    }
    sum
}

fn gf2_matrix_square(square: &mut [u64; 64], mat: &[u64; 64]) {
    for (sq, &m) in square.iter_mut().zip(mat) {
        *sq = gf2_matrix_times(mat, m);
    }
}

/// CRC of `A || B` from `crc1 = crc(A)`, `crc2 = crc(B)` and `len2 = len(B)`
/// (zlib `crc32_combine` adapted to 64 bits); O(log len2).
pub fn combine(mut crc1: u64, crc2: u64, mut len2: u64) -> u64 {
    if len2 == 0 {
        return crc1;
    }
    let mut even = [0u64; 64];
    let mut odd = [0u64; 64];
    // Operator for one zero bit.
    odd[0] = POLY_REFLECTED;
    for (n, o) in odd.iter_mut().enumerate().skip(1) {
        *o = 1u64 << (n - 1);
    }
    gf2_matrix_square(&mut even, &odd); // two zero bits
    gf2_matrix_square(&mut odd, &even); // four zero bits
    loop {
        // First pass: one zero byte, then doubling on every step.
        gf2_matrix_square(&mut even, &odd);
        if len2 & 1 != 0 {
            crc1 = gf2_matrix_times(&even, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
        gf2_matrix_square(&mut odd, &even);
        if len2 & 1 != 0 {
            crc1 = gf2_matrix_times(&odd, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
    }
    crc1 ^ crc2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors() {
        assert_eq!(checksum(b"123456789"), 11051210869376104954);
        assert_eq!(checksum(b"123456789"), 0x995d_c9bb_df19_39fa);
        assert_eq!(checksum(b"hello world"), 5981764153023615706);
        assert_eq!(checksum(b""), 0);
        assert_eq!(Crc64::new().finish(), 0);
    }

    #[test]
    fn streaming_matches_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut h = Crc64::default();
        for chunk in data.chunks(777) {
            h.update(chunk);
        }
        assert_eq!(h.finish(), checksum(&data));
        assert_eq!(h.bytes_hashed(), data.len() as u64);
        h.update(b"x");
        let mut all = data.clone();
        all.push(b'x');
        assert_eq!(h.finish(), checksum(&all));
    }

    #[test]
    fn combine_splits() {
        let data: Vec<u8> = (0..5_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for split in [0, 1, 2, 3, 7, 8, 9, 100, 255, 256, 1024, 4095, 4999, 5000] {
            let (a, b) = data.split_at(split);
            assert_eq!(
                combine(checksum(a), checksum(b), b.len() as u64),
                checksum(&data),
                "split {split}"
            );
        }
        assert_eq!(
            combine(checksum(b"hello "), checksum(b"world"), 5),
            checksum(b"hello world")
        );
    }

    #[test]
    fn combine_many_parts() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
        let mut acc = 0u64;
        for part in data.chunks(3_001) {
            acc = combine(acc, checksum(part), part.len() as u64);
        }
        assert_eq!(acc, checksum(&data));
    }
}
