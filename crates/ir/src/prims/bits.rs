//! Integer shifts with StableHLO's semantics, shared by the three shift prims.

use crate::DType;

/// Which shift.
#[derive(Clone, Copy)]
pub(crate) enum Shift {
    Left,
    Logical,
    Arithmetic,
}

/// `a` shifted by `b` in the bit width of `dtype`. The amount is read as unsigned; amounts of
/// the bit width or more shift everything out (arithmetic shifts leave the sign).
pub(crate) fn shift(dtype: DType, a: i64, b: i64, kind: Shift) -> i64 {
    let bits = dtype.bits();
    let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let raw = (a as u64) & mask;
    let amount = (b as u64) & mask;
    // The operand's bits sign-extended from its width, for arithmetic shifts.
    let signed = ((raw << (64 - bits)) as i64) >> (64 - bits);
    if amount >= u64::from(bits) {
        return match kind {
            Shift::Left | Shift::Logical => 0,
            Shift::Arithmetic => signed >> 63,
        };
    }
    match kind {
        Shift::Left => (raw << amount) as i64,
        Shift::Logical => (raw >> amount) as i64,
        Shift::Arithmetic => signed >> amount,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wrap_int;

    #[test]
    fn shifts_follow_stablehlo() {
        let s = |d, a, b, k| wrap_int(d, shift(d, a, b, k));
        assert_eq!(s(DType::I32, 1, 31, Shift::Left), i32::MIN as i64);
        assert_eq!(s(DType::I32, 1, 32, Shift::Left), 0);
        assert_eq!(s(DType::I32, -8, 1, Shift::Logical), 0x7fff_fffc);
        assert_eq!(s(DType::I32, -8, 1, Shift::Arithmetic), -4);
        assert_eq!(s(DType::I32, -8, 40, Shift::Arithmetic), -1);
        assert_eq!(s(DType::U32, 0x8000_0000, 4, Shift::Arithmetic), 0xf800_0000);
        assert_eq!(s(DType::U8, 200, 1, Shift::Left), 144);
        assert_eq!(s(DType::I32, 5, -1, Shift::Left), 0, "a negative amount is a huge unsigned one");
    }
}
