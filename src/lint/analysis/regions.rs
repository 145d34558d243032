//! Rules' static regions compared as boxes (a set of classes per column): which rules meet
//! and which contain one another. Unreachable rules and partial overlaps are read off these.

use super::{has, Walker};

impl Walker<'_> {
    /// For each rule: the rows whose static region meets its own, and the rows whose static
    /// region contains its own. A condition's static region is a box (a set of classes per
    /// column), so both are per-column tests.
    pub(super) fn boxes(&self) -> (Vec<Vec<u64>>, Vec<Vec<u64>>) {
        let words = self.words;
        let mut meets = Vec::with_capacity(self.nr);
        let mut contains = Vec::with_capacity(self.nr);
        for r in 0..self.nr {
            let mut m = vec![u64::MAX; words];
            let mut c = vec![u64::MAX; words];
            for col in &self.cols {
                let mut any = vec![0u64; words];
                let mut all = vec![u64::MAX; words];
                for class in 0..col.classes {
                    let b = &col.bits[class * words..(class + 1) * words];
                    if has(b, r) {
                        for w in 0..words {
                            any[w] |= b[w];
                            all[w] &= b[w];
                        }
                    }
                }
                for w in 0..words {
                    m[w] &= any[w];
                    c[w] &= all[w];
                }
            }
            meets.push(m);
            contains.push(c);
        }
        (meets, contains)
    }
}
