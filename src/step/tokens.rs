//! Counting a prompt's tokens in bounded time and memory.
//!
//! tiktoken's byte-pair merge grows worse than linearly in the length of one piece of text
//! without whitespace (a prompt of one repeated character took seconds at 6 MB and did not
//! finish at 50 MB). So the text is tokenized exactly in chunks that end at whitespace and
//! are at most [`MAX_CHUNK_BYTES`] long, and only its first [`EXACT_TOKENIZE_BYTES`]; the rest
//! is counted by the `approx` tokenizer's rule, ceil(chars × 21 / 80). docs/policy.md says so.

use tiktoken_rs::CoreBPE;

/// How much of a prompt is tokenized exactly (256 KiB, about 60,000 tokens of prose).
pub const EXACT_TOKENIZE_BYTES: usize = 256 << 10;

/// The longest chunk handed to the tokenizer at once. Chunks end before whitespace where
/// there is any, where tiktoken itself splits, so ordinary text counts exactly as a whole.
pub const MAX_CHUNK_BYTES: usize = 1024;

/// The `approx` rule: ceil(chars / 4 × 1.05), in integers.
pub fn approx(text: &str) -> u64 {
    (text.chars().count() as u64 * 21).div_ceil(80)
}

/// Counts `text` with `bpe`: exactly for the first [`EXACT_TOKENIZE_BYTES`], in chunks of
/// at most [`MAX_CHUNK_BYTES`], then by [`approx`] for the rest.
pub fn count(bpe: &CoreBPE, text: &str) -> u64 {
    let exact_end = floor_char_boundary(text, EXACT_TOKENIZE_BYTES);
    let (exact, rest) = text.split_at(exact_end);
    let mut total = 0u64;
    let mut chunk_start = 0;
    while chunk_start < exact.len() {
        let end = chunk_end(exact, chunk_start);
        total += bpe.encode_ordinary(&exact[chunk_start..end]).len() as u64;
        chunk_start = end;
    }
    total + approx(rest)
}

/// Where the chunk starting at `start` ends: before the last whitespace run within
/// [`MAX_CHUNK_BYTES`], else at the limit (on a character boundary).
fn chunk_end(text: &str, start: usize) -> usize {
    if text.len() - start <= MAX_CHUNK_BYTES {
        return text.len();
    }
    let limit = floor_char_boundary(text, start + MAX_CHUNK_BYTES);
    let window = &text[start..limit];
    // Split before the whitespace run, so a word keeps its leading space as tiktoken's
    // pre-tokenizer would have it.
    match window
        .rfind(|c: char| !c.is_whitespace())
        .and_then(|last_word| window[..last_word].rfind(|c: char| c.is_whitespace()))
    {
        Some(ws) if ws > 0 => {
            // The start of that whitespace run.
            let run = window[..ws]
                .rfind(|c: char| !c.is_whitespace())
                .map_or(0, |i| {
                    i + window[i..].chars().next().map_or(1, char::len_utf8)
                });
            start + if run > 0 { run } else { ws }
        }
        _ => limit.max(start + text[start..].chars().next().map_or(1, char::len_utf8)),
    }
}

/// The largest character boundary at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    let mut i = at;
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_counts_as_a_whole() {
        let bpe = tiktoken_rs::o200k_base_singleton();
        let text = "The quick brown fox jumps over the lazy dog, again and again. ".repeat(400);
        assert!(text.len() > 4 * MAX_CHUNK_BYTES);
        assert_eq!(count(bpe, &text), bpe.encode_ordinary(&text).len() as u64);
    }

    #[test]
    fn a_huge_prompt_of_one_character_counts() {
        let bpe = tiktoken_rs::o200k_base_singleton();
        let text = "a".repeat(50 << 20);
        let n = count(bpe, &text);
        let rest = (text.len() - EXACT_TOKENIZE_BYTES) as u64;
        assert!(n > (rest * 21).div_ceil(80), "{n}");
        assert!(n < text.len() as u64, "{n}");
    }

    #[test]
    fn chunks_end_on_character_boundaries() {
        let text = "é".repeat(MAX_CHUNK_BYTES * 3);
        let mut start = 0;
        while start < text.len() {
            let end = chunk_end(&text, start);
            assert!(end > start && text.is_char_boundary(end));
            start = end;
        }
    }
}
