//! The first 64 bits of a SHA-256 digest, for the fingerprint of every event
//! (`usage::event::UsageEvent::fingerprint`): the message padded here and its blocks given to
//! `sha2`'s compression function, which the wasm profile builds at opt-level 3, without the
//! `digest` crate's buffering, finalisation and padding around it (built for size with the rest
//! of the core: about 0.1 ms of a 1,000-event batch by the profile, beside the compression's
//! 0.37). The same bits as `Sha256::digest(message)[..8]`: a property test below holds the two
//! together.

use sha2::digest::generic_array::GenericArray;

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The first eight bytes of the SHA-256 digest of `message`.
pub fn sha256_prefix(message: &[u8]) -> [u8; 8] {
    let mut state = INITIAL;
    let mut blocks = message.chunks_exact(64);
    for block in &mut blocks {
        compress(&mut state, block);
    }
    // The padding (FIPS 180-4, 5.1.1): the rest, one bit set, zeros, then the message's
    // length in bits as a big-endian 64-bit number ending a block; one block or two.
    let rest = blocks.remainder();
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let end = if rest.len() < 56 { 64 } else { 128 };
    let bits = (message.len() as u64).wrapping_mul(8);
    tail[end - 8..end].copy_from_slice(&bits.to_be_bytes());
    for block in tail[..end].chunks_exact(64) {
        compress(&mut state, block);
    }
    let mut prefix = [0u8; 8];
    prefix[..4].copy_from_slice(&state[0].to_be_bytes());
    prefix[4..].copy_from_slice(&state[1].to_be_bytes());
    prefix
}

/// One 64-byte block into the state (every caller passes `chunks_exact(64)`).
fn compress(state: &mut [u32; 8], block: &[u8]) {
    if let Ok(block) = <[u8; 64]>::try_from(block) {
        sha2::compress256(state, &[GenericArray::from(block)]);
    }
}

#[cfg(test)]
mod tests {
    use super::sha256_prefix;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_prefix_of_known_messages_is_their_digests_first_eight_bytes() {
        // FIPS 180-2's examples: "abc", and 56 bytes (two blocks once padded).
        assert_eq!(hex::encode(sha256_prefix(b"abc")), "ba7816bf8f01cfea");
        let two = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(hex::encode(sha256_prefix(two)), "248d6a61d20638b8");
        assert_eq!(hex::encode(sha256_prefix(b"")), "e3b0c44298fc1c14");
    }

    proptest! {
        #[test]
        fn the_prefix_is_what_sha2_gives_for_every_length_around_the_block_edges(
            message in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let digest = Sha256::digest(&message);
            prop_assert_eq!(&sha256_prefix(&message)[..], &digest[..8]);
        }
    }
}
