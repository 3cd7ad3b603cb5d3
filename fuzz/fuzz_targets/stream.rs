//! The stream splitter: bytes are either refused (as not UTF-8 exactly when they are not, or for
//! a `---` line that Kubernetes refuses, exactly when there is one), or split into chunks that, with the separator lines between them, give the input back; reading
//! the documents one at a time gives the same chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reimage::stream::Stream;

fuzz_target!(|input: &[u8]| {
    let stream = match Stream::read(input) {
        Ok(stream) => stream,
        Err(_) => {
            match std::str::from_utf8(input) {
                Err(_) => {}
                Ok(text) => assert!(
                    text.split('\n').any(|line| {
                        let line = line.strip_suffix('\r').unwrap_or(line);
                        line.starts_with("---") && !is_separator(line)
                    }),
                    "refused without a bad separator line"
                ),
            }
            assert!(Stream::documents(input).is_err());
            return;
        }
    };
    let text = stream.text();
    assert_eq!(text.as_bytes(), input);
    let chunks = stream.chunks();
    assert!(!chunks.is_empty());
    let mut end = 0;
    for (index, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.number, index + 1);
        assert!(chunk.range.start >= end && chunk.range.start <= chunk.range.end);
        // Between two chunks there is exactly one separator line.
        let between = &text[end..chunk.range.start];
        if index == 0 {
            assert!(between.is_empty());
        } else {
            let line = between.strip_suffix('\n').unwrap_or(between);
            assert!(is_separator(line) && !line.contains('\n'), "{between:?}");
        }
        // The line of its first byte (an empty last document after a final `---` without a
        // line break has no first byte; it is numbered as the line after the separator).
        if !chunk.range.is_empty() {
            let before = &text[..chunk.range.start];
            assert_eq!(chunk.first_line, 1 + before.matches('\n').count());
        }
        assert!(["\n", "\r\n", "\r"].contains(&chunk.newline));
        end = chunk.range.end;
    }
    assert_eq!(end, text.len());
    // No line inside a chunk is a separator.
    for chunk in chunks {
        for line in stream.chunk_text(chunk).split('\n') {
            assert!(!is_separator(line), "{line:?} in chunk {}", chunk.number);
        }
    }
    let one_by_one: Vec<_> = Stream::documents(input)
        .map(|documents| documents.flat_map(|d| d.chunks().to_vec()).collect())
        .unwrap_or_default();
    assert_eq!(one_by_one, chunks);
});

/// A line (without its `\n`) that separates documents, as Kubernetes reads a stream: `---`,
/// then only white space or a `#` comment.
fn is_separator(line: &str) -> bool {
    line.strip_prefix("---").is_some_and(|rest| {
        let rest = rest.trim();
        rest.is_empty() || rest.starts_with('#')
    })
}
