//! Stage 1, read: the input stream split into documents, exactly as Kubernetes splits it.
//!
//! A document ends at a line that starts with `---` followed by nothing but white space or a
//! `#` comment; any other line that starts with `---` is an error. This is the rule of
//! `k8s.io/apimachinery`'s YAML reader (since v0.22), which Helm and kubectl use: such a line
//! makes Kubernetes refuse the stream, so reimage refuses it too. Nothing is copied: a
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
    /// The line ending to use for text inserted in this document: the one its first line ends
    /// with (`"\n"`, `"\r\n"` or `"\r"`).
    pub newline: &'static str,
}

impl Chunk {
    /// ` (# Source: path)`, to follow the document's number in a message, or nothing.
    pub fn source_note(&self) -> String {
        source_note(self.source.as_deref())
    }
}

/// ` (# Source: path)` for a document whose Helm template is known, or nothing.
pub fn source_note(source: Option<&str>) -> String {
    source.map_or_else(String::new, |s| format!(" (# Source: {s})"))
}

/// The input is not a stream reimage can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("input is not valid UTF-8 at line {line}, column {column}; Kubernetes manifests must be UTF-8")]
    NotUtf8 { line: usize, column: usize },
    #[error("document {document}, line {line}: `{text}` is not a document separator Kubernetes accepts (it refuses the stream); write `---` alone on its line, or `--- # a comment`")]
    BadSeparator {
        document: usize,
        line: usize,
        text: String,
    },
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
        check_separators(text)?;
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
        check_separators(text)?;
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
        self.text.get(chunk.range.clone()).unwrap_or_default()
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

/// What a line (without its line break) that starts with `---` is to Kubernetes.
#[derive(Debug, PartialEq, Eq)]
enum Dashes {
    /// Not such a line.
    Content,
    /// `---`, then only white space or a `#` comment: the end of a document.
    Separator,
    /// Anything else after the dashes: an error that ends the stream.
    Invalid,
}

fn dashes(line: &str) -> Dashes {
    match line.strip_prefix("---").map(str::trim) {
        None => Dashes::Content,
        Some(rest) if rest.is_empty() || rest.starts_with('#') => Dashes::Separator,
        Some(_) => Dashes::Invalid,
    }
}

/// Every line of the text that starts with `---`, as (line start, line without its break).
fn dash_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = Some(0);
    std::iter::from_fn(move || loop {
        let start = at?;
        let rest = text.get(start..)?;
        if !rest.starts_with("---") {
            at = rest.find("\n---").map(|i| start + i + 1);
            continue;
        }
        let line = rest
            .find('\n')
            .map_or(rest, |i| rest.get(..i).unwrap_or_default());
        at = (start + line.len() < text.len()).then_some(start + line.len() + 1);
        return Some((start, line.strip_suffix('\r').unwrap_or(line)));
    })
}

/// Refuses a stream with a `---` line that is not a separator, as Kubernetes does.
fn check_separators(text: &str) -> Result<(), StreamError> {
    let mut document = 1;
    for (start, line) in dash_lines(text) {
        match dashes(line) {
            Dashes::Separator => document += 1,
            Dashes::Invalid => {
                let before = text.get(..start).unwrap_or_default();
                return Err(StreamError::BadSeparator {
                    document,
                    line: 1 + before.bytes().filter(|&b| b == b'\n').count(),
                    text: line.chars().take(80).collect(),
                });
            }
            Dashes::Content => {}
        }
    }
    Ok(())
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
    fn separator(&self, at: usize) -> Option<(usize, usize)> {
        let text = self.text;
        dash_lines(text.get(at..)?)
            .find(|(_, line)| dashes(line) == Dashes::Separator)
            .map(|(start, line)| {
                let start = at + start;
                let end = text
                    .get(start + line.len()..)
                    .and_then(|rest| rest.find('\n'))
                    .map_or(text.len(), |i| start + line.len() + i + 1);
                (start, end)
            })
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
    let body = text.get(range.clone()).unwrap_or_default();
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
    body.split(['\n', '\r'])
        .map(str::trim_start)
        .take_while(|line| line.is_empty() || line.starts_with('#'))
        .find_map(|line| line.strip_prefix("# Source:"))
        .map(|path| path.trim().to_string())
        .filter(|path| !path.is_empty())
}

/// The document's own line ending (LF, CRLF or a lone CR), else the stream's first, else LF.
fn line_ending(body: &str, text: &str) -> &'static str {
    let first = |s: &str| {
        let i = s.find(['\n', '\r'])?;
        Some(match s.get(i..) {
            Some(rest) if rest.starts_with("\r\n") => "\r\n",
            Some(rest) if rest.starts_with('\r') => "\r",
            _ => "\n",
        })
    };
    first(body).or_else(|| first(text)).unwrap_or("\n")
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
        assert_eq!(texts("a: ---\n--- # x\nb: 1\n"), ["a: ---\n", "b: 1\n"]);
        assert_eq!(texts("a: 1\n---\t#x\r\nb\r\n"), ["a: 1\n", "b\r\n"]);
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
    fn refuses_lines_that_kubernetes_refuses() {
        for bad in ["----\n", "a: 1\n--- |\n  x\n", "a\n---\nb\n---x\n"] {
            let err = Stream::read(bad.as_bytes()).unwrap_err();
            assert!(matches!(err, StreamError::BadSeparator { .. }), "{bad:?}");
        }
        let err = Stream::documents(b"a\n---\nb\n--- !x\n").unwrap_err();
        assert_eq!(
            err,
            StreamError::BadSeparator {
                document: 2,
                line: 4,
                text: "--- !x".into()
            }
        );
    }

    #[test]
    fn rejects_invalid_utf8_with_position() {
        let err = Stream::read(b"a: 1\nb: \xff\n").unwrap_err();
        assert_eq!(err, StreamError::NotUtf8 { line: 2, column: 4 });
    }
}
