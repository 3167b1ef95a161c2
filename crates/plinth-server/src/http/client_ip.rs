//! The client's address for rate limits and logs. Behind a load balancer every connection
//! comes from the balancer, so per-IP limits would count everyone as one client; the address
//! in `X-Forwarded-For` is believed only when the connection comes from a configured trusted
//! proxy (anyone can write that header), taking the right-most address that is not itself a
//! trusted proxy — the last hop no client could forge.

use crate::config::IpRange;
use axum::http::HeaderMap;
use std::net::IpAddr;

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpRange]) -> IpAddr {
    if !trusted.iter().any(|range| range.contains(peer)) {
        return peer;
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            return client;
        };
        for part in text.rsplit(',') {
            let Ok(address) = part.trim().parse::<IpAddr>() else {
                // Garbage in the chain: stop at the last address we could trust.
                return client;
            };
            client = address;
            if !trusted.iter().any(|range| range.contains(address)) {
                return client;
            }
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted = vec![IpRange::parse("10.0.0.0/8").unwrap()];
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        // A client forging the header directly is ignored.
        assert_eq!(client_ip(stranger, &headers("1.2.3.4"), &trusted), stranger);
        // Through the proxy: the right-most untrusted address, not the forged left-most one.
        assert_eq!(
            client_ip(proxy, &headers("1.2.3.4, 198.51.100.7, 10.9.9.9"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_ip(proxy, &headers("nonsense"), &trusted), proxy);
    }
}
