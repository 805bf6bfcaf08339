//! MD5 and SHA-256, written out here so the tests can check the SIP digests the server
//! stores without depending on the hashing crates the server itself uses.

/// MD5 (RFC 1321) of `data`, as 32 lower-case hex characters.
pub fn md5_hex(data: &[u8]) -> String {
    const SHIFTS: [[u32; 4]; 4] = [
        [7, 12, 17, 22],
        [5, 9, 14, 20],
        [4, 11, 16, 23],
        [6, 10, 15, 21],
    ];
    // K[i] = floor(|sin(i + 1)| * 2^32), as RFC 1321 defines the table.
    let k: Vec<u32> = (1..=64u32)
        .map(|i| (f64::from(i).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

    for chunk in pad(data, false).chunks(64) {
        let words: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(words[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(SHIFTS[i / 16][i % 4]));
        }
        for (word, add) in state.iter_mut().zip([a, b, c, d]) {
            *word = word.wrapping_add(add);
        }
    }
    state
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 (FIPS 180-4) of `data`, as 64 lower-case hex characters.
pub fn sha256_hex(data: &[u8]) -> String {
    let primes = first_primes(64);
    // The first 32 bits of the fractional parts of the primes' square and cube roots.
    let fraction = |x: f64| ((x - x.floor()) * 4_294_967_296.0) as u32;
    let k: Vec<u32> = primes
        .iter()
        .map(|&p| fraction(f64::from(p).cbrt()))
        .collect();
    let mut state: Vec<u32> = primes[..8]
        .iter()
        .map(|&p| fraction(f64::from(p).sqrt()))
        .collect();

    for chunk in pad(data, true).chunks(64) {
        let mut w: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w.push(
                w[i - 16]
                    .wrapping_add(s0)
                    .wrapping_add(w[i - 7])
                    .wrapping_add(s1),
            );
        }
        let mut v = state.clone();
        for i in 0..64 {
            let (a, b, c, e, f, g) = (v[0], v[1], v[2], v[4], v[5], v[6]);
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let choice = (e & f) ^ (!e & g);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(choice)
                .wrapping_add(k[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let majority = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(majority);
            v.rotate_right(1);
            v[4] = v[4].wrapping_add(t1);
            v[0] = t1.wrapping_add(t2);
        }
        for (word, add) in state.iter_mut().zip(v) {
            *word = word.wrapping_add(add);
        }
    }
    state
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The message, a 1 bit, zeros, and its length in bits: whole 64-byte blocks.
fn pad(data: &[u8], big_endian: bool) -> Vec<u8> {
    let bits = (data.len() as u64).wrapping_mul(8);
    let mut padded = data.to_vec();
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    if big_endian {
        padded.extend_from_slice(&bits.to_be_bytes());
    } else {
        padded.extend_from_slice(&bits.to_le_bytes());
    }
    padded
}

fn first_primes(n: usize) -> Vec<u32> {
    let mut primes = Vec::with_capacity(n);
    let mut candidate = 2;
    while primes.len() < n {
        if primes.iter().all(|p| candidate % p != 0) {
            primes.push(candidate);
        }
        candidate += 1;
    }
    primes
}

#[test]
fn the_digests_match_their_published_test_vectors() {
    let long = "a".repeat(1000);

    let md5 = [md5_hex(b""), md5_hex(b"abc"), md5_hex(long.as_bytes())];
    let sha = [
        sha256_hex(b""),
        sha256_hex(b"abc"),
        sha256_hex(long.as_bytes()),
    ];

    assert_eq!(md5[0], "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(md5[1], "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(md5[2], "cabe45dcc9ae5b66ba86600cca6b8ba8");
    assert_eq!(
        sha[0],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        sha[1],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        sha[2],
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
    );
    // RFC 2617's own example of HA1.
    assert_eq!(
        md5_hex(b"Mufasa:testrealm@host.com:Circle Of Life"),
        "939e7578ed9e3c518a452acee763bce9"
    );
}
