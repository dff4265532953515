//! Interaction codes (protocol draft "Interaction Code Format"; DIGEST §3.3).
//!
//! A code is at least 8 Crockford base32 symbols (≥ 40 bits), built here from random bytes the
//! caller supplies — this crate has no RNG, so the entropy source stays in `aauth-store`.
//! Hyphens are only for display; comparison strips them, ignores case and folds the
//! look-alikes `I`/`L` → `1` and `O` → `0` (IC-04…06).

use std::fmt;

use crate::WireError;

const FIELD: &str = "interaction code";

/// The 32 Crockford symbols: digits and uppercase letters without I, L, O, U (IC-02).
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Fewest random bytes accepted: 5 bytes = 40 bits = 8 symbols (IC-03).
pub const MIN_RANDOM_BYTES: usize = 5;
/// Most random bytes accepted (→ 51 symbols); longer codes only burden the person typing.
pub const MAX_RANDOM_BYTES: usize = 32;
/// Fewest symbols in a canonical code.
pub const MIN_SYMBOLS: usize = 8;
/// Bound on typed input before normalisation, so hostile input costs O(1).
pub const MAX_INPUT_LEN: usize = 128;

/// A canonical interaction code: uppercase Crockford symbols, no hyphens.
///
/// `Debug` shows the code: it is a correlation handle, not a credential (IC-07).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InteractionCode(String);

fn symbol(value: u8) -> char {
    // `value` is masked to 5 bits by the caller; `get` keeps this panic-free regardless.
    ALPHABET
        .get(usize::from(value & 0x1f))
        .map_or('0', |b| char::from(*b))
}

impl InteractionCode {
    /// Encodes random bytes, 5 bits per symbol, most significant bit first. Trailing bits
    /// that do not fill a whole symbol are dropped so every symbol stays uniformly
    /// distributed. 5 bytes → 8 symbols, 10 bytes → 16 symbols.
    pub fn from_random_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() < MIN_RANDOM_BYTES {
            return Err(WireError::InvalidValue {
                field: FIELD,
                name: "random bytes",
                reason: "at least 5 bytes (40 bits) are required",
            });
        }
        if bytes.len() > MAX_RANDOM_BYTES {
            return Err(WireError::TooLong {
                field: FIELD,
                len: bytes.len(),
                max: MAX_RANDOM_BYTES,
            });
        }
        let symbols = bytes.len() * 8 / 5;
        let mut out = String::with_capacity(symbols);
        let mut acc: u32 = 0;
        let mut bits: u32 = 0;
        for &b in bytes {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                // Truncation to the low 5 bits is intended.
                out.push(symbol(((acc >> bits) & 0x1f) as u8));
            }
            acc &= (1 << bits) - 1;
        }
        Ok(InteractionCode(out))
    }

    /// Accepts a code already in canonical form (as stored): only uppercase Crockford
    /// symbols, at least 8 of them.
    pub fn parse_canonical(s: &str) -> Result<Self, WireError> {
        if s.len() > MAX_INPUT_LEN {
            return Err(WireError::TooLong {
                field: FIELD,
                len: s.len(),
                max: MAX_INPUT_LEN,
            });
        }
        if s.len() < MIN_SYMBOLS {
            return Err(WireError::InvalidValue {
                field: FIELD,
                name: "code",
                reason: "fewer than 8 symbols",
            });
        }
        if !s.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(WireError::InvalidValue {
                field: FIELD,
                name: "code",
                reason: "not in canonical form (uppercase Crockford symbols, no hyphens)",
            });
        }
        Ok(InteractionCode(s.to_owned()))
    }

    /// The canonical form, e.g. `7KQ2M9XD`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The display form in groups of four, e.g. `7KQ2-M9XD` (IC-04). This is what goes into
    /// the `code` parameter and what the interaction page shows (IC-11).
    pub fn display(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + self.0.len() / 4);
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    /// Turns what a person typed into canonical form: trim surrounding whitespace, drop all
    /// hyphens, uppercase, fold `I`/`L` → `1` and `O` → `0`. Any other character (including
    /// `U`, inner spaces and non-ASCII) is an error; so is an empty result.
    pub fn normalize_input(input: &str) -> Result<String, WireError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(WireError::TooLong {
                field: FIELD,
                len: input.len(),
                max: MAX_INPUT_LEN,
            });
        }
        let mut out = String::with_capacity(input.len());
        for c in input.trim().chars() {
            let c = match c.to_ascii_uppercase() {
                '-' => continue,
                'I' | 'L' => '1',
                'O' => '0',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
                _ => {
                    return Err(WireError::InvalidValue {
                        field: FIELD,
                        name: "input",
                        reason: "contains a character outside the Crockford alphabet",
                    });
                }
            };
            out.push(c);
        }
        if out.is_empty() {
            return Err(WireError::Empty { field: FIELD });
        }
        Ok(out)
    }

    /// Whether typed input denotes this code. The symbol comparison is constant-time in the
    /// position of the first difference (XOR-fold over all bytes, no early exit); only the
    /// length, which is public anyway, can short-circuit.
    pub fn matches(&self, input: &str) -> bool {
        let Ok(candidate) = Self::normalize_input(input) else {
            return false;
        };
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Display for InteractionCode {
    /// The grouped display form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_ic_02_char(c: char) -> bool {
        // ^[0-9A-HJKMNP-TV-Z-]+$ from the digest, spelled out.
        matches!(c, '0'..='9' | 'A'..='H' | 'J' | 'K' | 'M' | 'N' | 'P'..='T' | 'V'..='Z' | '-')
    }

    #[test]
    fn ic_02_alphabet_is_crockford() {
        assert_eq!(ALPHABET.len(), 32);
        for c in ALPHABET.iter().map(|b| char::from(*b)) {
            assert!(is_ic_02_char(c) && c != '-', "{c}");
        }
        for c in ['I', 'L', 'O', 'U'] {
            assert!(!ALPHABET.contains(&(c as u8)));
        }
    }

    #[test]
    fn ic_02_ic_03_encoding_known_vectors() {
        // 40 zero bits → eight '0'; 40 one bits → eight 'Z'.
        assert_eq!(
            InteractionCode::from_random_bytes(&[0; 5])
                .unwrap()
                .as_str(),
            "00000000"
        );
        assert_eq!(
            InteractionCode::from_random_bytes(&[0xff; 5])
                .unwrap()
                .as_str(),
            "ZZZZZZZZ"
        );
        // 0x00 0x44 0x32 0x14 0xc7 = 00000 00001 00010 00011 00100 00101 00110 00111
        assert_eq!(
            InteractionCode::from_random_bytes(&[0x00, 0x44, 0x32, 0x14, 0xc7])
                .unwrap()
                .as_str(),
            "01234567"
        );
        // symbols 16..=23 and 24..=31 pack to these bytes
        let c = InteractionCode::from_random_bytes(&[0x84, 0x65, 0x3a, 0x56, 0xd7]).unwrap();
        assert_eq!(c.as_str(), "GHJKMNPQ");
        let c = InteractionCode::from_random_bytes(&[0xc6, 0x75, 0xbe, 0x77, 0xdf]).unwrap();
        assert_eq!(c.as_str(), "RSTVWXYZ");
        // lengths: floor(bits / 5)
        assert_eq!(
            InteractionCode::from_random_bytes(&[7; 6])
                .unwrap()
                .as_str()
                .len(),
            9
        );
        assert_eq!(
            InteractionCode::from_random_bytes(&[7; 10])
                .unwrap()
                .as_str()
                .len(),
            16
        );
    }

    #[test]
    fn ic_02_every_symbol_reachable_and_output_in_alphabet() {
        let mut seen = [false; 32];
        // Deterministic pseudo-random sweep (no RNG in this crate): a simple LCG.
        let mut state: u32 = 0x1234_5678;
        for _ in 0..10_000 {
            let mut bytes = [0u8; 5];
            for b in &mut bytes {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *b = (state >> 24) as u8;
            }
            let code = InteractionCode::from_random_bytes(&bytes).unwrap();
            assert!(code.display().chars().all(is_ic_02_char));
            assert_eq!(code.as_str().len(), 8);
            for b in code.as_str().bytes() {
                let i = ALPHABET.iter().position(|a| *a == b).unwrap();
                seen[i] = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn ic_03_requires_40_bits() {
        assert!(InteractionCode::from_random_bytes(&[1; 4]).is_err());
        assert!(InteractionCode::from_random_bytes(&[]).is_err());
        assert!(InteractionCode::from_random_bytes(&[1; MAX_RANDOM_BYTES + 1]).is_err());
        assert!(InteractionCode::parse_canonical("7KQ2M9X").is_err());
    }

    #[test]
    fn ic_04_display_groups_of_four() {
        let c = InteractionCode::parse_canonical("7KQ2M9XD").unwrap();
        assert_eq!(c.display(), "7KQ2-M9XD");
        assert_eq!(c.to_string(), "7KQ2-M9XD");
        let c = InteractionCode::parse_canonical("7KQ2M9XDA").unwrap();
        assert_eq!(c.display(), "7KQ2-M9XD-A");
    }

    #[test]
    fn ic_04_hyphens_stripped() {
        let c = InteractionCode::parse_canonical("7KQ2M9XD").unwrap();
        for input in ["7KQ2M9XD", "7KQ2-M9XD", "7-K-Q-2-M-9-X-D", "--7KQ2M9XD--"] {
            assert!(c.matches(input), "{input}");
        }
    }

    #[test]
    fn ic_05_case_insensitive() {
        let c = InteractionCode::parse_canonical("7KQ2M9XD").unwrap();
        assert!(c.matches("7kq2-m9xd"));
        assert!(c.matches("7kq2m9xd"));
    }

    #[test]
    fn ic_06_fold_i_l_to_1_and_o_to_0() {
        let c = InteractionCode::parse_canonical("10K0P7QX").unwrap();
        assert!(c.matches("lOk0p7qx"));
        assert!(c.matches("IOKO-P7QX"));
        assert!(c.matches("iokop7qx"));
        assert_eq!(InteractionCode::normalize_input("lIoO").unwrap(), "1100");
    }

    #[test]
    fn digest_10_3_table() {
        let stored = InteractionCode::parse_canonical("7KQ2M9XD").unwrap();
        assert!(stored.matches("7KQ2-M9XD"));
        assert!(stored.matches("7kq2m9xd"));
        // trailing space: our (derived) choice is to trim
        assert!(stored.matches("7KQ2-M9XD "));
        assert!(!stored.matches("7KQ2M9X0"));
        let stored = InteractionCode::parse_canonical("10K0P7QX").unwrap();
        assert!(stored.matches("lOk0p7qx"));
    }

    #[test]
    fn normalize_rejects_other_characters() {
        for bad in [
            "7KQ2 M9XD",
            "7KQ2U9XD",
            "7KQ2_M9XD",
            "7KQ2M9XÐ",
            "７KQ2M9XD",
            "",
            "  ",
            "---",
        ] {
            assert!(InteractionCode::normalize_input(bad).is_err(), "{bad:?}");
        }
        assert!(InteractionCode::normalize_input(&"A".repeat(MAX_INPUT_LEN + 1)).is_err());
        let stored = InteractionCode::parse_canonical("7KQ2M9XD").unwrap();
        assert!(!stored.matches("7KQ2U9XD"));
        assert!(!stored.matches(""));
        assert!(!stored.matches("7KQ2M9XDD"));
        assert!(!stored.matches("7KQ2M9X"));
    }

    #[test]
    fn parse_canonical_rejects_non_canonical() {
        for bad in [
            "7KQ2-M9XD",
            "7kq2m9xd",
            "7KQ2M9XU",
            "IKQ2M9XD",
            "7KQ2M9X\u{e9}",
        ] {
            assert!(InteractionCode::parse_canonical(bad).is_err(), "{bad}");
        }
        let c = InteractionCode::parse_canonical("7KQ2M9XD").unwrap();
        assert_eq!(c.as_str(), "7KQ2M9XD");
        let round = InteractionCode::parse_canonical(
            &InteractionCode::normalize_input(&c.display()).unwrap(),
        )
        .unwrap();
        assert_eq!(round, c);
    }
}
