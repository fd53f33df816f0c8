//! What a proxy does to headers on the way through: hop-by-hop headers removed, the
//! `X-Forwarded-*` headers set from what the gateway can vouch for, request ids and the
//! W3C trace context. Pure functions over `HeaderMap`s, tested here without sockets.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::str::FromStr;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// RFC 9110 §7.6.1: the connection-specific fields a proxy must not forward, plus
/// `Trailer` (a hop's framing, RFC 9110 §6.6.2) and the legacy `Proxy-Connection`.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes the hop-by-hop headers and every header the `Connection` header names
/// (RFC 9110 §7.6.1: "a proxy or gateway MUST parse a received Connection header field
/// before a message is forwarded and, for each connection-option in this field, remove
/// any header or trailer field(s) from the message with the same name").
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| HeaderName::from_str(token.trim()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// An address block, `10.0.0.0/8` or `fd00::/8`; a bare address is a block of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let (address, bits) = match text.split_once('/') {
            Some((address, bits)) => (address, Some(bits)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not an address or address block (`10.0.0.0/8`, `fd00::/8`)"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(bits) => bits
                .parse::<u8>()
                .ok()
                .filter(|&b| b <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0..={max}"))?,
        };
        Ok(Cidr {
            network: network.to_canonical(),
            bits,
        })
    }
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        fn masked(value: u128, bits: u8, width: u8) -> u128 {
            if bits == 0 { 0 } else { value >> (width - bits) }
        }
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.bits, 32) == masked(u32::from(ip).into(), self.bits, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.bits, 128) == masked(u128::from(ip), self.bits, 128)
            }
            _ => false,
        }
    }
}

/// Which `X-Forwarded-*` values the gateway believes: those written by proxies it trusts.
/// Counting from the right of `X-Forwarded-For` (the peer first), the first `hops`
/// addresses are trusted proxies, and so is any address in `proxies` — Envoy's
/// `xff_num_trusted_hops` and nginx's `set_real_ip_from`, combined. The client is the
/// first address from the right that is not a trusted proxy.
#[derive(Clone, Debug, Default)]
pub struct TrustPolicy {
    pub hops: u32,
    pub proxies: Vec<Cidr>,
}

/// What the gateway sends upstream about where a request came from.
#[derive(Debug, PartialEq, Eq)]
pub struct Forwarded {
    /// The client as far as trusted proxies vouch for it.
    pub client: IpAddr,
    /// `X-Forwarded-For`: the client, then each trusted proxy, the peer last. Entries
    /// left of the client are dropped: nobody the gateway trusts wrote them.
    pub chain: Vec<IpAddr>,
    /// Whether the peer is a trusted proxy, whose `X-Forwarded-Proto`/`-Host` are kept.
    pub peer_trusted: bool,
}

impl TrustPolicy {
    fn trusted(&self, from_right: usize, address: IpAddr) -> bool {
        from_right < self.hops as usize || self.proxies.iter().any(|cidr| cidr.contains(address))
    }

    pub fn forwarded(&self, peer: IpAddr, headers: &HeaderMap) -> Forwarded {
        let peer = peer.to_canonical();
        let claimed: Vec<Option<IpAddr>> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .flat_map(|value| value.to_str().unwrap_or("!").split(','))
            .map(|entry| parse_forwarded_address(entry.trim()))
            .collect();
        let mut chain = vec![peer];
        // Walk left while the address just taken is a trusted proxy: it vouches for the
        // one before it. An entry that is not an address ends the walk.
        while self.trusted(chain.len() - 1, chain[chain.len() - 1]) {
            match claimed.len().checked_sub(chain.len()).map(|i| claimed[i]) {
                Some(Some(address)) => chain.push(address),
                _ => break,
            }
        }
        chain.reverse();
        Forwarded {
            client: chain[0],
            peer_trusted: self.trusted(0, peer),
            chain,
        }
    }
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:51234`.
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<std::net::SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Sets `X-Forwarded-For/-Proto/-Host` (replacing what the client sent unless the peer
/// is trusted) and drops an untrusted `Forwarded` (RFC 7239), which would say the same.
pub fn set_forwarded(headers: &mut HeaderMap, forwarded: &Forwarded, host: Option<HeaderValue>) {
    let mut chain = String::new();
    for (i, address) in forwarded.chain.iter().enumerate() {
        let _ = write!(chain, "{}{address}", if i == 0 { "" } else { ", " });
    }
    let kept = |headers: &HeaderMap, name: &HeaderName| {
        forwarded
            .peer_trusted
            .then(|| headers.get(name).cloned())
            .flatten()
            .filter(|value| !value.is_empty())
    };
    // The gateway itself listens on plain HTTP; TLS ends in front of it.
    let proto = kept(headers, &X_FORWARDED_PROTO).unwrap_or(HeaderValue::from_static("http"));
    let forwarded_host = kept(headers, &X_FORWARDED_HOST).or(host);
    if !forwarded.peer_trusted {
        headers.remove(FORWARDED);
    }
    headers.insert(
        X_FORWARDED_FOR,
        HeaderValue::from_str(&chain).expect("addresses are header-safe"),
    );
    headers.insert(X_FORWARDED_PROTO, proto);
    match forwarded_host {
        Some(value) => headers.insert(X_FORWARDED_HOST, value),
        None => headers.remove(X_FORWARDED_HOST),
    };
}

/// The request's id: the client's `X-Request-Id` when it is a plausible id (visible ASCII,
/// at most 128 characters, so that it can go into logs as it is), else a new UUID v4.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    let mut values = headers.get_all(X_REQUEST_ID).iter();
    match (values.next(), values.next()) {
        (Some(value), None)
            if (1..=128).contains(&value.len()) && value.as_bytes().iter().all(u8::is_ascii_graphic) =>
        {
            value.clone()
        }
        _ => HeaderValue::from_str(&new_uuid()).expect("hex is header-safe"),
    }
}

/// RFC 9562 §5.4: 122 random bits, version 4, variant `10`.
pub fn new_uuid() -> String {
    let bits = (fastrand::u128(..) & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The gateway's span in a W3C trace (https://www.w3.org/TR/trace-context/, Level 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// The gateway's span: the `parent-id` it sends upstream.
    pub span_id: String,
    pub flags: u8,
    /// Whether the request's own `traceparent` was missing or invalid and this trace
    /// starts here.
    pub started_here: bool,
}

impl TraceContext {
    /// Continues the request's trace (same trace id and sampled flag, a new parent id),
    /// or starts one when `traceparent` is absent, repeated or invalid (§3.2.2.x, §4.3).
    /// A trace started here is sampled, as it would be had the client called the engine
    /// directly (the engine's default sampler follows its parent, and samples roots).
    pub fn child_of(headers: &HeaderMap) -> TraceContext {
        let mut values = headers.get_all(TRACEPARENT).iter();
        let parent = match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok().and_then(parse_traceparent),
            _ => None,
        };
        let span_id = format!("{:016x}", fastrand::u64(1..));
        match parent {
            Some((trace_id, flags)) => TraceContext {
                trace_id,
                span_id,
                // §3.2.2.5: only the flags this version defines (sampled) are sent on.
                flags: flags & 0x01,
                started_here: false,
            },
            None => TraceContext {
                trace_id: format!("{:032x}", fastrand::u128(1..)),
                span_id,
                flags: 0x01,
                started_here: true,
            },
        }
    }

    pub fn traceparent(&self) -> HeaderValue {
        HeaderValue::from_str(&format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags))
            .expect("hex is header-safe")
    }

    /// Sets `traceparent`; keeps `tracestate` with a continued trace and drops it with a
    /// new one (§3.3: a vendor that cannot parse `traceparent` must not use `tracestate`).
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(TRACEPARENT, self.traceparent());
        if self.started_here {
            headers.remove(TRACESTATE);
        }
    }
}

/// `version-traceid-parentid-flags` (§3.2): the trace id and flags of a valid value.
/// Version `ff` is invalid; a later version than `00` is read as `00` and may carry more
/// fields after a `-` (§3.2.4).
fn parse_traceparent(value: &str) -> Option<(String, u8)> {
    let value = value.trim();
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let version = value.get(..2)?;
    if !hex(version, 2) || version == "ff" || value.get(2..3)? != "-" {
        return None;
    }
    let fields = value.get(3..55)?;
    match value.len() {
        55 => {}
        _ if version == "00" => return None,
        _ if value.get(55..56) != Some("-") => return None,
        _ => {}
    }
    let mut parts = fields.split('-');
    let (trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?);
    let all_zero = |s: &str| s.bytes().all(|b| b == b'0');
    if !hex(trace, 32) || !hex(parent, 16) || !hex(flags, 2) || all_zero(trace) || all_zero(parent) {
        return None;
    }
    Some((trace.to_string(), u8::from_str_radix(flags, 16).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_str(name).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("connection", "x-other"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-connection", "close"),
            ("x-secret-hop", "1"),
            ("x-other", "2"),
            ("x-kept", "3"),
        ]);
        strip_hop_by_hop(&mut headers);
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-kept"]);
    }

    #[test]
    fn cidrs_parse_and_match() {
        let block: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains("10.1.200.3".parse().unwrap()));
        assert!(!block.contains("10.2.0.1".parse().unwrap()));
        assert!(
            block.contains("::ffff:10.1.0.9".parse().unwrap()),
            "IPv4-mapped peers count as IPv4"
        );
        let one: Cidr = "fd00::1".parse().unwrap();
        assert!(one.contains("fd00::1".parse().unwrap()) && !one.contains("fd00::2".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()) && !all.contains("::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().unwrap_err().contains("0..=32"));
        assert!("proxy".parse::<Cidr>().is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_hops() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let headers = map(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
            ("x-forwarded-for", "10.0.0.4"),
        ]);
        let chain = |policy: &TrustPolicy| -> Vec<String> {
            policy
                .forwarded(peer, &headers)
                .chain
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        // Nobody trusted: the client is the peer, and what it claimed is dropped.
        let none = TrustPolicy::default();
        assert_eq!(chain(&none), ["10.0.0.5"]);
        assert!(!none.forwarded(peer, &headers).peer_trusted);
        // Two hops (the peer and 10.0.0.4) are proxies: the client is 198.51.100.7.
        let two = TrustPolicy {
            hops: 2,
            proxies: vec![],
        };
        assert_eq!(chain(&two), ["198.51.100.7", "10.0.0.4", "10.0.0.5"]);
        assert_eq!(
            two.forwarded(peer, &headers).client,
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // The same from a trusted block; 198.51.100.7 is outside it, so 6.6.6.6 is never believed.
        let block = TrustPolicy {
            hops: 0,
            proxies: vec!["10.0.0.0/8".parse().unwrap()],
        };
        assert_eq!(chain(&block), ["198.51.100.7", "10.0.0.4", "10.0.0.5"]);
        // More trust than entries: everything claimed is kept.
        assert_eq!(
            chain(&TrustPolicy {
                hops: 9,
                proxies: vec![]
            })
            .len(),
            4
        );
        // A garbage entry ends the walk at the last trusted address.
        let garbage = map(&[("x-forwarded-for", "not-an-ip")]);
        let forwarded = TrustPolicy {
            hops: 1,
            proxies: vec![],
        }
        .forwarded(peer, &garbage);
        assert_eq!(forwarded.chain, [peer]);
    }

    #[test]
    fn forwarded_headers_replace_untrusted_values() {
        let mut headers = map(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("forwarded", "for=6.6.6.6"),
        ]);
        let policy = TrustPolicy::default();
        let forwarded = policy.forwarded("192.0.2.9".parse().unwrap(), &headers);
        set_forwarded(
            &mut headers,
            &forwarded,
            Some(HeaderValue::from_static("gw.example:8080")),
        );
        assert_eq!(headers[X_FORWARDED_FOR], "192.0.2.9");
        assert_eq!(headers[X_FORWARDED_PROTO], "http");
        assert_eq!(headers[X_FORWARDED_HOST], "gw.example:8080");
        assert!(!headers.contains_key(FORWARDED));

        let mut headers = map(&[("x-forwarded-proto", "https"), ("x-forwarded-host", "api.example")]);
        let forwarded = TrustPolicy {
            hops: 1,
            proxies: vec![],
        }
        .forwarded("10.0.0.1".parse().unwrap(), &headers);
        set_forwarded(&mut headers, &forwarded, Some(HeaderValue::from_static("gw:8080")));
        assert_eq!(headers[X_FORWARDED_PROTO], "https");
        assert_eq!(headers[X_FORWARDED_HOST], "api.example");
    }

    #[test]
    fn request_ids_are_kept_when_sane_and_made_otherwise() {
        assert_eq!(request_id(&map(&[("x-request-id", "abc-123")])), "abc-123");
        let made = request_id(&map(&[("x-request-id", "has space")]));
        let made = made.to_str().unwrap();
        assert_eq!(made.len(), 36);
        assert_eq!(&made[14..15], "4", "version 4: {made}");
        assert!(matches!(&made[19..20], "8" | "9" | "a" | "b"), "variant 10: {made}");
        assert_ne!(request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
        assert_ne!(request_id(&map(&[("x-request-id", &"x".repeat(129))])).len(), 129);
        assert_eq!(
            request_id(&map(&[("x-request-id", "a"), ("x-request-id", "b")])).len(),
            36
        );
    }

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_continued_with_a_new_parent() {
        let headers = map(&[("traceparent", VALID), ("tracestate", "congo=t61rcWkgMzE")]);
        let trace = TraceContext::child_of(&headers);
        assert_eq!(trace.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(trace.span_id, "00f067aa0ba902b7");
        assert_eq!((trace.flags, trace.started_here), (1, false));
        let mut out = headers.clone();
        trace.apply(&mut out);
        let sent = out[TRACEPARENT].to_str().unwrap().to_string();
        assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && sent.ends_with("-01"));
        assert_eq!(parse_traceparent(&sent).unwrap().0, trace.trace_id);
        assert_eq!(out[TRACESTATE], "congo=t61rcWkgMzE");
        // Unsampled stays unsampled.
        let unsampled = VALID.replace("-01", "-00");
        assert_eq!(TraceContext::child_of(&map(&[("traceparent", &unsampled)])).flags, 0);
    }

    #[test]
    fn invalid_traceparents_start_a_trace_and_drop_tracestate() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad:?}");
        }
        // A later version may carry more fields.
        assert!(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later").is_some());
        let mut headers = map(&[("traceparent", "garbage"), ("tracestate", "a=b")]);
        let trace = TraceContext::child_of(&headers);
        assert!(trace.started_here);
        assert_eq!(trace.trace_id.len(), 32);
        trace.apply(&mut headers);
        assert!(!headers.contains_key(TRACESTATE));
        assert!(parse_traceparent(headers[TRACEPARENT].to_str().unwrap()).is_some());
        let twice = map(&[("traceparent", VALID), ("traceparent", VALID)]);
        assert!(TraceContext::child_of(&twice).started_here);
    }
}
