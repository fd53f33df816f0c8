//! Requests to the engine doubles (REST and the engine's stateless MCP) and waits on what Prometheus saw of them.

use super::*;

/// One HTTP/1.1 request (`Connection: close`): the status and the body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    stream.write_all(body).map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("read from {addr}: {e}"))?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut body = &response[split + 4..];
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head}"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.to_ascii_lowercase().contains("chunked")
    });
    if !chunked {
        return Ok((status, String::from_utf8_lossy(body).into_owned()));
    }
    // Go's server chunks larger answers to HTTP/1.1 requests (Prometheus' rules and alerts).
    let mut decoded = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").ok_or("a truncated chunk")?;
        let size = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).map_err(|e| e.to_string())?;
        if size == 0 {
            return Ok((status, String::from_utf8_lossy(&decoded).into_owned()));
        }
        let chunk = body.get(line_end + 2..line_end + 2 + size).ok_or("a truncated chunk")?;
        decoded.extend_from_slice(chunk);
        body = body.get(line_end + 4 + size..).ok_or("a truncated chunk")?;
    }
}

/// A REST request to a capability's `rest` port: its status.
pub fn rest(pod: &Pod, path: &str) -> u16 {
    let (status, body) =
        http(&pod.addr("rest"), "GET", path, &[], b"").unwrap_or_else(|e| panic!("GET {path} on {}: {e}", pod.name));
    assert!(
        status == 200 || status == 500,
        "GET {path} on {}: {status} {body}",
        pod.name
    );
    status
}

/// An MCP `tools/call` on a capability's `mcp` port (stateless Streamable HTTP,
/// 2026-07-28: the `Mcp-Method`/`Mcp-Name` headers and the protocol in `_meta`): whether
/// the tool's result is an error.
pub fn mcp_call(pod: &Pod, tool: &str, arguments: Value) -> bool {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": tool, "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MCP_PROTOCOL,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    })
    .to_string();
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", tool),
        ("MCP-Protocol-Version", MCP_PROTOCOL),
    ];
    let (status, text) = http(&pod.addr("mcp"), "POST", "/mcp", &headers, body.as_bytes())
        .unwrap_or_else(|e| panic!("tools/call {tool} on {}: {e}", pod.name));
    let answer: Value = serde_json::from_str(&text).unwrap_or_default();
    assert!(
        status == 200 && answer["result"]["content"].is_array(),
        "tools/call {tool} on {}: {status} {text}",
        pod.name
    );
    answer["result"]["isError"] == true
}

/// Requests sent in the background until dropped (a latency SLI needs traffic in every
/// 5-minute window).
pub struct Traffic {
    pub stop: Arc<AtomicBool>,
    pub sent: Arc<AtomicU64>,
    pub thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    pub fn start(pod: Pod, path: &'static str, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (flag, count) = (Arc::clone(&stop), Arc::clone(&sent));
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                if http(&pod.addr("rest"), "GET", path, &[], b"").is_ok() {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(every);
            }
        });
        Traffic {
            stop,
            sent,
            thread: Some(thread),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits until Prometheus has scraped `want` requests per capability (the sum of
/// `ikanos_request_total` over its series).
pub fn wait_scraped(watch: &Watch, step: &str, want: &BTreeMap<&str, f64>) {
    let ns = &watch.namespace;
    watch.wait(step, Duration::from_secs(60), || {
        let seen = watch.by_capability(&format!(
            "sum by (capability) (ikanos_request_total{{namespace=\"{ns}\"}})"
        ));
        let ok = want
            .iter()
            .all(|(c, n)| seen.get(*c).is_some_and(|v| v.as_ref().is_ok_and(|v| v == n)));
        if ok {
            Ok(())
        } else {
            Err(format!("{seen:?}, want {want:?}"))
        }
    });
}
