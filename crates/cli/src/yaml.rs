//! A reader for the small subset of YAML found in FATE's `service_conf.yaml`.
//!
//! `flow init -c service_conf.yaml` only needs a handful of scalars
//! (`fateflow.host`, `fateflow.http_port`, `authentication.client.http_app_key`, ...).
//! Rather than depend on a YAML crate (`serde_yaml` is deprecated), this module
//! flattens block mappings, one-line flow mappings (`{a: 1, b: 2}`) and scalars into
//! dotted paths.
//! Sequences, multi-line scalars and aliases are skipped: no key the CLI reads uses them.

use std::collections::BTreeMap;

/// Flattens `text` into `dotted.path -> scalar` pairs.
///
/// A key whose value is empty, `~` or `null` maps to an empty string.
/// When a path occurs twice, the later value wins, as in YAML loaders.
pub(crate) fn flatten(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    // (indentation, key) of the mappings enclosing the current line.
    let mut stack: Vec<(usize, String)> = Vec::new();
    for raw in text.lines() {
        let line = strip_comment(raw).trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed == "---" || trimmed == "..." {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if trimmed == "-" || trimmed.starts_with("- ") {
            // Sequence items are not needed; they do not open a mapping level either.
            continue;
        }
        let Some((key, rest)) = split_key(trimmed) else {
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let mut path: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
        path.push(&key);
        let prefix = path.join(".");
        let rest = strip_anchor(rest.trim());
        if rest.is_empty() {
            out.insert(prefix, String::new());
            stack.push((indent, key));
        } else if let Some(body) = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            for item in split_outside_quotes(body, ',') {
                if let Some((k, v)) = split_key(item.trim()) {
                    out.insert(format!("{prefix}.{k}"), scalar(v.trim()));
                }
            }
        } else if rest.starts_with('[') || rest.starts_with('*') || rest.starts_with('|') {
            // Flow sequences, aliases and block scalars are not supported.
        } else {
            out.insert(prefix, scalar(rest));
        }
    }
    out
}

/// Cuts a `# comment` that starts the line or follows whitespace, outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_is_space = true;
    for (i, ch) in line.char_indices() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None if ch == '"' || ch == '\'' => quote = Some(ch),
            None if ch == '#' && prev_is_space => return &line[..i],
            None => {}
        }
        prev_is_space = ch.is_whitespace();
    }
    line
}

/// Splits `key: value` (or `key:` at the end of the line) outside quotes.
fn split_key(text: &str) -> Option<(String, &str)> {
    let mut quote: Option<char> = None;
    for (i, ch) in text.char_indices() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None if ch == '"' || ch == '\'' => quote = Some(ch),
            None if ch == ':' => {
                let rest = &text[i + 1..];
                if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                    let key = scalar(text[..i].trim());
                    return (!key.is_empty()).then_some((key, rest));
                }
            }
            None => {}
        }
    }
    None
}

fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, ch) in text.char_indices() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None if ch == '"' || ch == '\'' => quote = Some(ch),
            None if ch == sep => {
                parts.push(&text[start..i]);
                start = i + ch.len_utf8();
            }
            None => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Drops a leading `&anchor` from a value.
fn strip_anchor(value: &str) -> &str {
    match value.strip_prefix('&') {
        Some(rest) => rest
            .split_once(char::is_whitespace)
            .map_or("", |(_, v)| v.trim_start()),
        None => value,
    }
}

/// Unquotes a scalar; `~` and `null` become the empty string.
fn scalar(value: &str) -> String {
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        let inner = &value[1..value.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(ch) = chars.next() {
            if ch == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                }
            } else {
                out.push(ch);
            }
        }
        out
    } else if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
        value[1..value.len() - 1].replace("''", "'")
    } else if value == "~" || value == "null" || value == "Null" || value == "NULL" {
        String::new()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE_CONF: &str = r#"
use_registry: false
use_deserialize_safe_module: false
encrypt_module: fate_arch.common.encrypt_utils#pwdecrypt
hook_module:
  client_authentication: fate_flow.hook.flow.client_authentication
authentication:
  client:
    switch: true
    http_app_key: "app key"   # quoted, with a comment
    http_secret_key: 's3cr#t'
  site:
    switch: false
permission: {switch: false, component: false, dataset: false}
fateflow:
  # must be a real IP in cluster mode
  host: 192.168.0.4
  http_port: 9380
  grpc_port: 9360
  nginx:
    host:
    http_port:
  proxy: rollsite
database: &database
  name: fate_flow
zookeeper:
  hosts:
    - 127.0.0.1:2181
  use_acl: false
"#;

    #[test]
    fn reads_the_keys_flow_init_needs() {
        let map = flatten(SERVICE_CONF);
        assert_eq!(map["fateflow.host"], "192.168.0.4");
        assert_eq!(map["fateflow.http_port"], "9380");
        assert_eq!(map["fateflow.nginx.host"], "");
        assert_eq!(map["fateflow.proxy"], "rollsite");
        assert_eq!(map["authentication.client.switch"], "true");
        assert_eq!(map["authentication.client.http_app_key"], "app key");
        assert_eq!(map["authentication.client.http_secret_key"], "s3cr#t");
        assert_eq!(map["authentication.site.switch"], "false");
        assert_eq!(map["permission.dataset"], "false");
        assert_eq!(map["database.name"], "fate_flow");
        assert_eq!(map["zookeeper.use_acl"], "false");
        assert_eq!(
            map["encrypt_module"],
            "fate_arch.common.encrypt_utils#pwdecrypt"
        );
        assert!(!map.contains_key("zookeeper.hosts.127.0.0.1"));
    }

    #[test]
    fn flow_mapping_on_one_line() {
        let map = flatten(
            "authentication:\n  client: {switch: false, http_app_key: , http_secret_key: 'x, y'}\n",
        );
        assert_eq!(map["authentication.client.switch"], "false");
        assert_eq!(map["authentication.client.http_app_key"], "");
        assert_eq!(map["authentication.client.http_secret_key"], "x, y");
    }

    #[test]
    fn dedent_closes_mappings() {
        let map = flatten("a:\n  b:\n    c: 1\n  d: 2\ne: 3\n");
        assert_eq!(map["a.b.c"], "1");
        assert_eq!(map["a.d"], "2");
        assert_eq!(map["e"], "3");
    }

    #[test]
    fn urls_with_colons_are_values() {
        let map = flatten("fateboard:\n  url: http://127.0.0.1:8080\n");
        assert_eq!(map["fateboard.url"], "http://127.0.0.1:8080");
    }
}
