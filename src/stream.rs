//! Stage 1, read: the input stream split into documents, exactly as Kubernetes splits it.
//!
//! A document ends at a line that is `---` followed by nothing but white space (the rule of
//! `k8s.io/apimachinery`'s YAML reader, which Helm and kubectl use). Nothing is copied: a
//! [`Chunk`] is a byte range of the input plus what messages need to say where it is (its
//! number, its first line, its `# Source:` comment) and what inserted text needs to look like
//! (its line ending).

use std::ops::Range;

/// The whole input, checked to be UTF-8, and its documents in order.
#[derive(Debug)]
pub struct Stream<'a> {
    text: &'a str,
    chunks: Vec<Chunk>,
}

/// One document of the stream: the bytes between two separator lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// 1-based position in the stream, counting empty documents too.
    pub number: usize,
    /// Byte range in the stream, without the separator lines.
    pub range: Range<usize>,
    /// 1-based line number of the first byte of `range`.
    pub first_line: usize,
    /// The path of a Helm `# Source: path` comment line, if the document has one.
    pub source: Option<String>,
    /// The line ending to use for text inserted in this document: `"\r\n"` when its first line
    /// ends that way, else `"\n"`.
    pub newline: &'static str,
}

/// The input is not a stream reimage can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("input is not valid UTF-8 at line {line}, column {column}; Kubernetes manifests must be UTF-8")]
    NotUtf8 { line: usize, column: usize },
}

impl<'a> Stream<'a> {
    /// Checks the encoding and splits the input into documents.
    pub fn read(input: &'a [u8]) -> Result<Stream<'a>, StreamError> {
        let text = std::str::from_utf8(input).map_err(|e| {
            let valid = &input[..e.valid_up_to()];
            let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
            let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            StreamError::NotUtf8 {
                line,
                column: 1 + valid.len() - line_start,
            }
        })?;
        Ok(Stream {
            text,
            chunks: split(text),
        })
    }

    /// The whole input.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The documents, in order.
    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// The text of one document.
    pub fn chunk_text(&self, chunk: &Chunk) -> &'a str {
        &self.text[chunk.range.clone()]
    }
}

/// Whether a line (without its line break) separates documents.
fn is_separator(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.trim_end().is_empty())
}

fn split(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (line_no, line) in (1..).zip(text.split_inclusive('\n')) {
        let body = line.strip_suffix('\n').unwrap_or(line);
        if is_separator(body) {
            chunks.push(chunk(text, chunks.len() + 1, start..offset, start_line));
            start = offset + line.len();
            start_line = line_no + 1;
        }
        offset += line.len();
    }
    chunks.push(chunk(text, chunks.len() + 1, start..text.len(), start_line));
    chunks
}

fn chunk(text: &str, number: usize, range: Range<usize>, first_line: usize) -> Chunk {
    let body = &text[range.clone()];
    Chunk {
        number,
        source: helm_source(body),
        newline: line_ending(body, text),
        range,
        first_line,
    }
}

/// The path named by the first `# Source: …` comment line, as Helm writes it.
fn helm_source(body: &str) -> Option<String> {
    body.lines()
        .map(str::trim_start)
        .take_while(|line| line.is_empty() || line.starts_with('#'))
        .find_map(|line| line.strip_prefix("# Source:"))
        .map(|path| path.trim().to_string())
        .filter(|path| !path.is_empty())
}

/// The document's own line ending, else the stream's first, else LF.
fn line_ending(body: &str, text: &str) -> &'static str {
    let first = |s: &str| s.find('\n').map(|i| s[..i].ends_with('\r'));
    match first(body).or_else(|| first(text)) {
        Some(true) => "\r\n",
        _ => "\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<String> {
        let stream = Stream::read(input.as_bytes()).unwrap();
        stream
            .chunks()
            .iter()
            .map(|c| stream.chunk_text(c).to_string())
            .collect()
    }

    #[test]
    fn splits_on_separator_lines_only() {
        assert_eq!(texts("a: 1\n---\nb: 2\n"), ["a: 1\n", "b: 2\n"]);
        assert_eq!(texts("---\na: 1\n--- \t\nb: 2"), ["", "a: 1\n", "b: 2"]);
        assert_eq!(
            texts("a: ---\n--- # x\n----\n"),
            ["a: ---\n--- # x\n----\n"]
        );
        assert_eq!(texts(""), [""]);
        assert_eq!(texts("a\r\n---\r\nb\r\n"), ["a\r\n", "b\r\n"]);
    }

    #[test]
    fn records_lines_sources_and_line_endings() {
        let input = "# Source: c/templates/a.yaml\na: 1\r\n---\n\n# Source: c/b.yaml\nb: 2\n";
        let stream = Stream::read(input.as_bytes()).unwrap();
        let chunks = stream.chunks();
        assert_eq!(chunks[0].source.as_deref(), Some("c/templates/a.yaml"));
        assert_eq!(chunks[0].newline, "\n");
        assert_eq!(chunks[1].first_line, 4);
        assert_eq!(chunks[1].number, 2);
        assert_eq!(chunks[1].source.as_deref(), Some("c/b.yaml"));
    }

    #[test]
    fn rejects_invalid_utf8_with_position() {
        let err = Stream::read(b"a: 1\nb: \xff\n").unwrap_err();
        assert_eq!(err, StreamError::NotUtf8 { line: 2, column: 4 });
    }
}
