//! Finding the bytes that end a plain run of JSON string text, eight bytes at a time.
//!
//! Both the reader (a string ends at `"`, an escape starts at `\`, a raw control character
//! is an error) and the writers (those same bytes must be escaped) stop at exactly the
//! bytes `"`, `\` and 0x00–0x1F. Strings in messages are mostly plain, so finding the
//! next such byte quickly is most of the work; a word-at-a-time test (no `unsafe`, no
//! platform intrinsics) does it several times faster than a byte loop.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A word with the high bit set in (at least) the lowest byte of `w` that is zero, and
/// no bit set below it: the classic "has a zero byte" test. Bits above the first zero
/// byte may be false positives, which is why only the lowest flagged byte is used.
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

/// Flags bytes of `w` that are `"`, `\` or below 0x20 (lowest flagged byte exact).
fn special_bytes(w: u64) -> u64 {
    let quote = zero_bytes(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_bytes(w ^ (ONES * u64::from(b'\\')));
    // A byte below 0x20: subtracting 0x20 borrows into its high bit (when the byte's own
    // high bit was clear).
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    quote | backslash | control
}

/// Index of the first byte of `s` at or after `from` that is `"`, `\` or a control
/// character below 0x20, or `s.len()` if there is none.
pub(crate) fn next_special(s: &[u8], from: usize) -> usize {
    let mut i = from;
    let rest = s.get(from..).unwrap_or(&[]);
    let mut words = rest.chunks_exact(8);
    for chunk in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let flags = special_bytes(u64::from_le_bytes(bytes));
        if flags != 0 {
            // Little-endian: the lowest flagged byte is the first in memory.
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    for &b in words.remainder() {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(s: &[u8], from: usize) -> usize {
        s.iter()
            .enumerate()
            .skip(from)
            .find(|(_, b)| **b == b'"' || **b == b'\\' || **b < 0x20)
            .map_or(s.len(), |(i, _)| i)
    }

    /// Every special and every neighbour of one (0x1F/0x20, `!`/`#`, `[`/`]`, high bytes
    /// that could borrow) at every offset of strings longer and shorter than a word.
    #[test]
    fn agrees_with_a_byte_loop() {
        let probes: Vec<u8> = vec![
            0x00, 0x01, 0x1f, 0x20, b'!', b'"', b'#', b'[', b'\\', b']', 0x7f, 0x80, 0x9f, 0xa0,
            0xa2, 0xdc, 0xe2, 0xff,
        ];
        for len in 0..20 {
            for pos in 0..len {
                for &p in &probes {
                    for filler in [b'a', 0x80, 0xff, 0x21] {
                        let mut s = vec![filler; len];
                        s[pos] = p;
                        for from in 0..=len {
                            assert_eq!(next_special(&s, from), slow(&s, from), "{s:?} {from}");
                        }
                    }
                }
            }
        }
        // Two specials in one word: the first one wins.
        let s = b"abc\"de\\fgh";
        assert_eq!(next_special(s, 0), 3);
        assert_eq!(next_special(s, 4), 6);
        assert_eq!(next_special(b"", 0), 0);
        assert_eq!(next_special(b"abc", 5), 3);
    }
}
