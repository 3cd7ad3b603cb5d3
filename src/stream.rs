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

/// The documents of a stream one at a time, each as a [`Stream`] of that one document (see
/// [`Stream::documents`]).
#[derive(Debug)]
pub struct Documents<'a> {
    text: &'a str,
    chunks: Chunks<'a>,
}

impl<'a> Stream<'a> {
    /// Checks the encoding and splits the input into documents.
    pub fn read(input: &'a [u8]) -> Result<Stream<'a>, StreamError> {
        let text = decode(input)?;
        Ok(Stream {
            text,
            chunks: Chunks::new(text).collect(),
        })
    }

    /// Checks the encoding, then yields the documents one at a time, each as a stream of its
    /// own whose one chunk keeps its place in the whole (byte range, first line, number). A
    /// caller that is done with each document before it takes the next holds one document's
    /// worth of state, however many documents the stream has.
    pub fn documents(input: &'a [u8]) -> Result<Documents<'a>, StreamError> {
        let text = decode(input)?;
        Ok(Documents {
            text,
            chunks: Chunks::new(text),
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

impl<'a> Documents<'a> {
    /// The whole input.
    pub fn text(&self) -> &'a str {
        self.text
    }
}

impl<'a> Iterator for Documents<'a> {
    type Item = Stream<'a>;

    fn next(&mut self) -> Option<Stream<'a>> {
        let chunk = self.chunks.next()?;
        Some(Stream {
            text: self.text,
            chunks: vec![chunk],
        })
    }
}

/// The input as text, or where it stops being UTF-8.
fn decode(input: &[u8]) -> Result<&str, StreamError> {
    std::str::from_utf8(input).map_err(|e| {
        let valid = input.get(..e.valid_up_to()).unwrap_or_default();
        let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        StreamError::NotUtf8 {
            line,
            column: 1 + valid.len() - line_start,
        }
    })
}

/// Whether a line (without its line break) separates documents.
fn is_separator(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.trim_end().is_empty())
}

/// The chunks of a text, split as they are asked for. There is always at least one (an empty
/// input is one empty document).
#[derive(Debug)]
struct Chunks<'a> {
    text: &'a str,
    /// Where the next chunk starts, and its first line.
    start: usize,
    start_line: usize,
    number: usize,
    done: bool,
}

impl<'a> Chunks<'a> {
    fn new(text: &'a str) -> Chunks<'a> {
        Chunks {
            text,
            start: 0,
            start_line: 1,
            number: 0,
            done: false,
        }
    }

    /// The next separator line at or after line start `at`: where it starts and where the line
    /// after it starts. Only lines that begin with `---` are looked at, found by a substring
    /// search rather than line by line.
    fn separator(&self, mut at: usize) -> Option<(usize, usize)> {
        let text = self.text;
        loop {
            let rest = text.get(at..)?;
            if rest.starts_with("---") {
                let end = rest.find('\n').map_or(text.len(), |i| at + i + 1);
                let line = text.get(at..end)?;
                if is_separator(line.strip_suffix('\n').unwrap_or(line)) {
                    return Some((at, end));
                }
                if end == text.len() {
                    return None;
                }
                at = end;
            } else {
                at += rest.find("\n---")? + 1;
            }
        }
    }
}

impl Iterator for Chunks<'_> {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        if self.done {
            return None;
        }
        self.number += 1;
        let (start, first_line) = (self.start, self.start_line);
        let Some((separator, next)) = self.separator(start) else {
            self.done = true;
            return Some(chunk(
                self.text,
                self.number,
                start..self.text.len(),
                first_line,
            ));
        };
        let body = self.text.get(start..separator).unwrap_or_default();
        let separator_line = first_line + body.bytes().filter(|&b| b == b'\n').count();
        self.start = next;
        self.start_line = separator_line + 1;
        Some(chunk(self.text, self.number, start..separator, first_line))
    }
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
    fn documents_one_at_a_time_are_the_chunks() {
        let input = "# Source: a\na: 1\n---\n---\r\nb: 2\r\n---\nc";
        let whole = Stream::read(input.as_bytes()).unwrap();
        let documents = Stream::documents(input.as_bytes()).unwrap();
        assert_eq!(documents.text(), input);
        let one_by_one: Vec<Chunk> = documents.flat_map(|d| d.chunks().to_vec()).collect();
        assert_eq!(one_by_one, whole.chunks());
        assert_eq!(one_by_one.len(), 4);
        assert_eq!(one_by_one[3].first_line, 7);
        assert!(Stream::documents(b"\xff").is_err());
    }

    #[test]
    fn a_last_separator_without_a_line_break_ends_with_an_empty_document() {
        // From the stream fuzz target's seeds: the empty document has no first byte, and is
        // numbered as the line after the separator.
        let stream = Stream::read(b"a: 1\n---\n---").unwrap();
        let chunks = stream.chunks();
        assert_eq!(chunks.len(), 3);
        assert_eq!((chunks[1].range.clone(), chunks[1].first_line), (9..9, 3));
        assert_eq!((chunks[2].range.clone(), chunks[2].first_line), (12..12, 4));
    }

    #[test]
    fn rejects_invalid_utf8_with_position() {
        let err = Stream::read(b"a: 1\nb: \xff\n").unwrap_err();
        assert_eq!(err, StreamError::NotUtf8 { line: 2, column: 4 });
    }
}
