//! Host features from Redis: one hash per sample id (`HGETALL <prefix><id>`, fields
//! are feature names, values numbers as text), over a small pool of connections
//! speaking RESP.

use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

/// Idle connections kept for reuse.
const POOL: usize = 16;

/// A Redis feature source.
pub(super) struct RedisFeatures {
    addr: String,
    prefix: String,
    timeout: Duration,
    idle: Mutex<Vec<BufStream<TcpStream>>>,
}

impl RedisFeatures {
    pub(super) fn new(addr: String, prefix: String, timeout: Duration) -> Self {
        Self {
            addr,
            prefix,
            timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Where features are read, for messages.
    pub(super) fn describe(&self) -> String {
        format!("redis {} (keys {}<id>)", self.addr, self.prefix)
    }

    /// Each id's features (empty when its key does not exist), the commands pipelined
    /// on one connection.
    pub(super) async fn features(
        &self,
        ids: &[String],
    ) -> Result<Vec<Vec<(String, String)>>, String> {
        let keys: Vec<String> = ids
            .iter()
            .map(|id| format!("{}{id}", self.prefix))
            .collect();
        let work = async {
            let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut conn = match pooled {
                Some(c) => c,
                None => BufStream::new(
                    TcpStream::connect(&self.addr)
                        .await
                        .map_err(|e| format!("connecting: {e}"))?,
                ),
            };
            let reply = hgetall_many(&mut conn, &keys).await?;
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < POOL {
                idle.push(conn);
            }
            Ok(reply)
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| format!("no answer within {} ms", self.timeout.as_millis()))?
            .map_err(|e: String| format!("{}: {e}", self.describe()))
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub(super) fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn line(conn: &mut BufStream<TcpStream>) -> Result<String, String> {
    let mut l = String::new();
    let n = conn
        .read_line(&mut l)
        .await
        .map_err(|e| format!("reading: {e}"))?;
    if n == 0 {
        return Err("the connection closed".into());
    }
    Ok(l.trim_end_matches(['\r', '\n']).to_string())
}

async fn hgetall_many(
    conn: &mut BufStream<TcpStream>,
    keys: &[String],
) -> Result<Vec<Vec<(String, String)>>, String> {
    for key in keys {
        conn.write_all(&command(&[b"HGETALL", key.as_bytes()]))
            .await
            .map_err(|e| format!("writing: {e}"))?;
    }
    conn.flush().await.map_err(|e| format!("writing: {e}"))?;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        out.push(hgetall_reply(conn, key).await?);
    }
    Ok(out)
}

async fn hgetall_reply(
    conn: &mut BufStream<TcpStream>,
    key: &str,
) -> Result<Vec<(String, String)>, String> {
    let head = line(conn).await?;
    let n: usize = match head.split_at_checked(1) {
        Some(("*", n)) => n.parse().map_err(|_| format!("bad reply `{head}`"))?,
        Some(("-", msg)) => return Err(format!("HGETALL {key}: {msg}")),
        _ => return Err(format!("unexpected reply `{head}` to HGETALL")),
    };
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let h = line(conn).await?;
        let len: usize = h
            .strip_prefix('$')
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| format!("unexpected reply item `{h}`"))?;
        let mut buf = vec![0u8; len + 2];
        conn.read_exact(&mut buf)
            .await
            .map_err(|e| format!("reading: {e}"))?;
        buf.truncate(len);
        items.push(String::from_utf8_lossy(&buf).into_owned());
    }
    let mut pairs = Vec::with_capacity(n / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        pairs.push((k, v));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn commands_are_resp_arrays_of_bulk_strings() {
        assert_eq!(
            super::command(&[b"HGETALL", b"k:1"]),
            b"*2\r\n$7\r\nHGETALL\r\n$3\r\nk:1\r\n".to_vec()
        );
    }
}
