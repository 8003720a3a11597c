//! Where endpoints may point: `bakeoff serve --endpoint-allow` (host names, IP addresses,
//! networks; default: anywhere) and never a link-local address (169.254.0.0/16, fe80::/10: cloud
//! metadata services answer there). Checked on the addresses a host name resolves to, before
//! every check and run, and again when the checks' HTTP client resolves a name to connect.

use app::domain::url::{parse_base_url, Host};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

/// The flag that sets the allow list (named in refusals).
pub const FLAG: &str = "--endpoint-allow";

/// Why a URL may not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The host name did not resolve.
    Resolve(String),
    /// The policy refuses it.
    Denied(String),
}

#[derive(Debug, Default)]
pub struct EndpointPolicy {
    /// Host names allowed by name (lower-case, matched exactly).
    names: Vec<String>,
    nets: Vec<IpNet>,
    /// Addresses allowed whatever the list says: the built-in simulator's.
    builtin: RwLock<Vec<SocketAddr>>,
}

impl EndpointPolicy {
    /// Read the flag's entries: host names (exact, case-insensitive), IP addresses and CIDR
    /// networks. No entries: any host but link-local ones.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut policy = EndpointPolicy::default();
        for e in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if let Ok(net) = e.parse::<IpNet>() {
                policy.nets.push(net.trunc());
            } else if let Ok(ip) = e.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                policy.nets.push(IpNet::from(ip.to_canonical()));
            } else {
                match parse_base_url(&format!("http://{e}")) {
                    Ok(u) if u.port.is_none() && u.path.is_empty() => match u.host {
                        Host::Name(n) => policy.names.push(n),
                        Host::Ip(ip) => policy.nets.push(IpNet::from(ip)),
                    },
                    _ => {
                        return Err(format!(
                            "{FLAG}: '{e}' is not a host name, IP address or network (e.g. gpu-box.lan, 10.0.0.7 or 10.0.0.0/24)"
                        ))
                    }
                }
            }
        }
        Ok(policy)
    }

    /// No allow list: anywhere but link-local.
    pub fn is_open(&self) -> bool {
        self.names.is_empty() && self.nets.is_empty()
    }

    /// Allow this exact address whatever the list says (the built-in simulator listens here).
    pub fn allow_builtin(&self, addr: SocketAddr) {
        if let Ok(mut b) = self.builtin.write() {
            b.push(addr);
        }
    }

    /// May a URL whose host is `host` be reached at `addrs` (what `host` resolved to)?
    pub fn decide(&self, host: &Host, addrs: &[SocketAddr]) -> Result<(), String> {
        if addrs.is_empty() {
            return Err(format!("{host} has no address"));
        }
        if let Some(a) = addrs.iter().find(|a| is_link_local(a.ip())) {
            return Err(format!(
                "{host} is a link-local address ({}): endpoints may never point at 169.254.0.0/16 or fe80::/10, where cloud metadata services answer",
                a.ip()
            ));
        }
        let builtin = self.builtin.read().map(|b| addrs.iter().all(|a| b.contains(a))).unwrap_or(false);
        let by_name = matches!(host, Host::Name(n) if self.names.contains(n));
        let by_net = addrs.iter().all(|a| self.nets.iter().any(|n| n.contains(&a.ip().to_canonical())));
        if self.is_open() || builtin || by_name || by_net {
            Ok(())
        } else {
            Err(format!(
                "{host} is not among the hosts and networks this server's endpoints may point at (an admin sets them with `bakeoff serve {FLAG}`)"
            ))
        }
    }

    /// Resolve `url`'s host and decide.
    pub async fn check(&self, url: &str) -> Result<(), Refusal> {
        let u = parse_base_url(url).map_err(Refusal::Denied)?;
        let port = u.port_or_default();
        let addrs: Vec<SocketAddr> = match &u.host {
            Host::Ip(ip) => vec![SocketAddr::new(*ip, port)],
            Host::Name(n) => tokio::net::lookup_host((n.as_str(), port))
                .await
                .map_err(|e| Refusal::Resolve(format!("could not resolve the host name '{n}' ({e})")))?
                .collect(),
        };
        self.decide(&u.host, &addrs).map_err(Refusal::Denied)
    }
}

/// 169.254.0.0/16 or fe80::/10, also written as an IPv4-mapped IPv6 address.
pub fn is_link_local(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// The checks' DNS: resolves, then refuses what the policy refuses, so a name that resolved
/// to an allowed address at the check cannot connect elsewhere later.
pub(super) struct PolicyResolver(pub Arc<EndpointPolicy>);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            policy.decide(&Host::Name(host), &addrs)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> EndpointPolicy {
        EndpointPolicy::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).expect("valid entries")
    }

    fn at(ip: &str) -> Vec<SocketAddr> {
        vec![SocketAddr::new(ip.parse().expect("ip"), 8000)]
    }

    fn name(n: &str) -> Host {
        Host::Name(n.into())
    }

    #[test]
    fn no_list_allows_any_host_but_link_local() {
        let p = policy(&[]);
        assert!(p.is_open());
        assert_eq!(p.decide(&name("gpu"), &at("10.1.2.3")), Ok(()));
        assert_eq!(p.decide(&name("gpu"), &at("::1")), Ok(()));
        let e = p.decide(&name("metadata"), &at("169.254.169.254")).expect_err("link-local");
        assert!(e.contains("link-local"), "{e}");
        assert!(p.decide(&name("x"), &at("fe80::1")).is_err());
        assert!(p.decide(&name("x"), &at("::ffff:169.254.169.254")).is_err(), "IPv4-mapped");
    }

    #[test]
    fn a_cidr_allows_its_addresses_only() {
        let p = policy(&["10.0.0.0/24", "192.168.1.7"]);
        assert_eq!(p.decide(&name("a"), &at("10.0.0.200")), Ok(()));
        assert_eq!(p.decide(&name("b"), &at("192.168.1.7")), Ok(()));
        let e = p.decide(&name("c"), &at("10.0.1.1")).expect_err("outside");
        assert!(e.contains(FLAG), "the refusal names the flag: {e}");
        assert!(p.decide(&name("d"), &at("192.168.1.8")).is_err());
        let mixed = [at("10.0.0.1"), at("8.8.8.8")].concat();
        assert!(p.decide(&name("e"), &mixed).is_err(), "every address must be allowed");
    }

    #[test]
    fn a_name_is_allowed_exactly_and_case_insensitively() {
        let p = policy(&["GPU-Box.lan"]);
        assert_eq!(p.decide(&name("gpu-box.lan"), &at("203.0.113.9")), Ok(()));
        assert!(p.decide(&name("evil.gpu-box.lan"), &at("203.0.113.9")).is_err());
        assert!(p.decide(&name("gpu-box.lan.evil"), &at("203.0.113.9")).is_err());
    }

    #[test]
    fn link_local_is_refused_even_when_listed() {
        let p = policy(&["169.254.0.0/16", "meta.internal"]);
        assert!(p.decide(&name("meta.internal"), &at("169.254.169.254")).is_err());
        assert!(p.decide(&Host::Ip("169.254.1.1".parse().expect("ip")), &at("169.254.1.1")).is_err());
    }

    #[test]
    fn the_builtin_simulator_is_allowed_whatever_the_list() {
        let p = policy(&["10.0.0.0/8"]);
        let sim = at("127.0.0.1");
        assert!(p.decide(&name("x"), &sim).is_err());
        p.allow_builtin(sim[0]);
        assert_eq!(p.decide(&Host::Ip("127.0.0.1".parse().expect("ip")), &sim), Ok(()));
        assert!(p.decide(&name("x"), &at("127.0.0.2")).is_err());
    }

    #[test]
    fn bad_entries_are_named() {
        let e = EndpointPolicy::parse(&["gpu box".into()]).expect_err("space");
        assert!(e.contains(FLAG) && e.contains("gpu box"), "{e}");
        assert!(EndpointPolicy::parse(&["http://x".into()]).is_err());
        assert!(EndpointPolicy::parse(&["[::1]".into(), "fd00::/8".into()]).is_ok());
    }

    #[tokio::test]
    async fn literal_addresses_are_checked_without_dns() {
        let p = policy(&["127.0.0.0/8"]);
        assert_eq!(p.check("http://127.0.0.1:9/health").await, Ok(()));
        assert!(matches!(p.check("http://10.0.0.1:9/health").await, Err(Refusal::Denied(_))));
        assert!(matches!(
            policy(&[]).check("http://169.254.169.254/latest").await,
            Err(Refusal::Denied(_))
        ));
        assert!(matches!(policy(&[]).check("http://[fe80::1]:80").await, Err(Refusal::Denied(_))));
    }

    #[tokio::test]
    async fn https_urls_are_checked_the_same_way() {
        let p = policy(&["127.0.0.0/8"]);
        assert_eq!(p.check("https://127.0.0.1/v1/models").await, Ok(()));
        assert_eq!(p.check("https://[::ffff:127.0.0.1]:8443").await, Ok(()));
        assert!(matches!(p.check("https://10.0.0.1/v1").await, Err(Refusal::Denied(_))));
        assert!(matches!(
            policy(&[]).check("https://169.254.169.254/latest").await,
            Err(Refusal::Denied(_))
        ));
        assert!(matches!(
            policy(&[]).check("https://user:pw@127.0.0.1/v1").await,
            Err(Refusal::Denied(_))
        ));
    }
}
