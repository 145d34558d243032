//! "Did you mean" hints: the closest known name to a misspelt one.

/// Returns the candidate closest to `word` by edit distance, when it is close enough to be
/// a plausible typo (at most a third of the word's length, and at least one edit allowed).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    let close = candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);
    // An abbreviation (`needs_cot`) is far in edits but shares its first word with exactly
    // one name (`needs_chain_of_thought`).
    close.or_else(|| {
        let head = word
            .split('_')
            .next()
            .filter(|h| h.len() >= 3 && *h != word)?;
        let mut same = candidates
            .iter()
            .filter(|c| c.split('_').next() == Some(head));
        match (same.next(), same.next()) {
            (Some(c), None) => Some(*c),
            _ => None,
        }
    })
}

/// Edit distance over chars where swapping two neighbours counts as one edit (optimal
/// string alignment), since transposed letters are the commonest typo.
fn distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_close_names_only() {
        let names = ["default_tier", "description", "name"];
        assert_eq!(did_you_mean("defualt_tier", names), Some("default_tier"));
        assert_eq!(did_you_mean("nmae", names), Some("name"));
        assert_eq!(did_you_mean("zzzzzz", names), None);
        // A transposition is one edit, so a short word still gets its hint.
        assert_eq!(did_you_mean("naem", names), Some("name"));
        assert_eq!(distance("défaut", "défuat"), 1);
        let flags = [
            "needs_chain_of_thought",
            "output_must_be_json",
            "untrusted_input",
        ];
        assert_eq!(
            did_you_mean("needs_cot", flags),
            Some("needs_chain_of_thought")
        );
    }
}
