//! JSON text in the exact shape FATE's Python client produces.
//!
//! FATE's `flow` serialises request bodies and the upload query string with Python's
//! `json.dumps(obj)`: `", "` between items, `": "` after keys, and every non-ASCII
//! character escaped as `\uXXXX`.
//! We produce the same bytes, so a captured Python request and ours can be compared
//! byte for byte, and so the signed body is exactly the body that was sent.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};

/// Serialises `value` the way Python's `json.dumps(value)` does with default arguments.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser = Serializer::with_formatter(&mut out, PythonFormatter);
    value.serialize(&mut ser)?;
    // The formatter only ever writes ASCII.
    Ok(String::from_utf8(out).expect("the Python formatter writes ASCII only"))
}

/// Pretty-prints like Python's `json.dumps(value, indent=4, ensure_ascii=False)`,
/// which is what FATE's `flow` shows to the user.
pub fn to_pretty<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    // Serialising a `serde_json::Value` (or plain data) into memory cannot fail.
    value
        .serialize(&mut ser)
        .expect("serialising JSON to memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Percent-encodes a string for use as a whole URL query.
///
/// Python `requests` keeps the characters `!#$%&'()*+,/:;=?@[]~` unescaped; that is
/// how the captured upload URL keeps `:`, `,` and `/` as they are.
/// We keep the same set except the ones that change the meaning of a query
/// (`#`, `%`, `&`, `+`, `;`, `=`, `?`) and the ones the `url` crate would rewrite
/// (`'`, `[`, `]`), which we escape.
/// For every JSON document that does not contain those characters the result is
/// byte-identical to what FATE's client sends; for the others ours still decodes to
/// the same document, where the Python client's request would be cut short.
pub fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'('
                    | b')'
                    | b'*'
                    | b','
                    | b'/'
                    | b':'
                    | b'@'
            );
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A `serde_json` formatter reproducing Python's default `json.dumps` separators
/// and its `ensure_ascii=True` escaping.
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut units = [0u16; 2];
        for ch in fragment.chars() {
            if ch.is_ascii() {
                writer.write_all(&[ch as u8])?;
            } else {
                for unit in ch.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        let escaped: &[u8] = match char_escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => return write!(writer, "\\u{byte:04x}"),
        };
        writer.write_all(escaped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn separators_and_escapes_match_python() {
        // python3 -c 'import json; print(json.dumps({"file": "dir with space/\u00fc+&=;\u0027#%.csv",
        //   "x": [1, 2.5, None, True]}))'
        let value = json!({"file": "dir with space/ü+&=;'#%.csv", "x": [1, 2.5, null, true]});
        assert_eq!(
            to_string(&value).unwrap(),
            r#"{"file": "dir with space/\u00fc+&=;'#%.csv", "x": [1, 2.5, null, true]}"#
        );
    }

    #[test]
    fn astral_characters_become_surrogate_pairs() {
        // python3 -c 'import json; print(json.dumps("\U0001F600\n\x01"))'
        assert_eq!(
            to_string(&json!("😀\n\u{1}")).unwrap(),
            r#""\ud83d\ude00\n\u0001""#
        );
    }

    #[test]
    fn empty_containers() {
        assert_eq!(
            to_string(&json!({"a": {}, "b": []})).unwrap(),
            r#"{"a": {}, "b": []}"#
        );
    }

    #[test]
    fn pretty_uses_four_spaces() {
        assert_eq!(
            to_pretty(&json!({"a": [1]})),
            "{\n    \"a\": [\n        1\n    ]\n}"
        );
    }

    #[test]
    fn query_encoding_keeps_what_requests_keeps() {
        assert_eq!(
            encode_query(r#"{"a": "/x,y:z"}"#),
            "%7B%22a%22:%20%22/x,y:z%22%7D"
        );
        assert_eq!(
            encode_query("a&b=c+d;e#f%g?h'i"),
            "a%26b%3Dc%2Bd%3Be%23f%25g%3Fh%27i"
        );
        assert_eq!(encode_query("é"), "%C3%A9");
    }
}
