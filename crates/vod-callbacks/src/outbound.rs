//! Outbound address policy for requests the server makes on a user's behalf (HTTP
//! callbacks now, URL pulls later): a URL chosen by a caller must not reach into the
//! server's own network.
//!
//! * [`OutboundPolicy`] classifies an IP address and says whether it may be contacted.
//!   Refused unless configured: loopback (`allow_loopback`), private ranges — RFC 1918,
//!   CGNAT `100.64.0.0/10`, IPv6 ULA `fc00::/7` — (`allow_private`). Always refused
//!   (unless inside an `allow_cidrs` range): link-local (`169.254.0.0/16` — cloud metadata —,
//!   `fe80::/10`), unspecified (`0.0.0.0`, `::`), `0.0.0.0/8`, multicast, broadcast,
//!   documentation, benchmarking and reserved ranges, NAT64 / 6to4 / Teredo prefixes.
//!   IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible IPv6 addresses are judged as the
//!   IPv4 address they carry, so `::ffff:127.0.0.1` is loopback.
//! * [`OutboundClient`] is a reqwest client whose DNS resolver passes every resolved address
//!   through the policy and hands the connector only the allowed ones: a name is resolved
//!   once per connection and the connection goes to an address that was checked (no
//!   rebinding window). IP-literal hosts never reach a resolver, so [`OutboundClient::check_url`]
//!   checks them before anything is sent. Redirects are followed at most
//!   [`Timeouts::max_redirects`] times and every target is checked again the same way.
//!   No proxy is used, whatever the environment says.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

/// What kind of address an IP is, for the policy and for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    Public,
    Loopback,
    /// RFC 1918, CGNAT (100.64.0.0/10), IPv6 unique-local (fc00::/7).
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// 0.0.0.0, ::.
    Unspecified,
    Multicast,
    /// Broadcast, 0.0.0.0/8, documentation, benchmarking, reserved and transition ranges.
    Reserved,
}

impl AddrClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::Unspecified => "unspecified",
            Self::Multicast => "multicast",
            Self::Reserved => "reserved",
        }
    }
}

/// Why an outbound request was not made or failed before a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The address is not allowed by the policy. Permanent: retrying will not help.
    #[error("address {addr} is {} and not allowed for outbound requests", class.as_str())]
    Blocked { addr: IpAddr, class: AddrClass },
    /// Every address a name resolved to is refused. Permanent.
    #[error("{host} resolves only to addresses not allowed for outbound requests ({detail})")]
    BlockedName { host: String, detail: String },
    /// The URL cannot be used (scheme, host, form). Permanent.
    #[error("invalid outbound URL: {0}")]
    InvalidUrl(String),
    /// More redirects than allowed. Permanent.
    #[error("too many redirects (at most {0})")]
    TooManyRedirects(usize),
    /// A bad policy setting (an unparsable CIDR).
    #[error("invalid outbound policy: {0}")]
    InvalidPolicy(String),
    /// The name did not resolve. Transient.
    #[error("cannot resolve {host}: {detail}")]
    Resolve { host: String, detail: String },
}

impl OutboundError {
    /// True when trying again later cannot succeed (the policy or the URL forbids it).
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Resolve { .. })
    }
}

/// Which addresses outbound requests may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    pub allow_loopback: bool,
    pub allow_private: bool,
    /// Ranges always allowed, whatever their class.
    pub allow_cidrs: Vec<IpNet>,
}

impl OutboundPolicy {
    /// Public addresses only.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Builds a policy from configuration values (`allow_cidrs` as strings like `10.1.0.0/16`
    /// or single addresses).
    pub fn from_settings(
        allow_loopback: bool,
        allow_private: bool,
        allow_cidrs: &[String],
    ) -> Result<Self, OutboundError> {
        let cidrs = allow_cidrs
            .iter()
            .map(|s| {
                let s = s.trim();
                IpNet::from_str(s)
                    .or_else(|_| IpAddr::from_str(s).map(IpNet::from))
                    .map_err(|_| OutboundError::InvalidPolicy(format!("{s:?} is not a CIDR range or IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            allow_loopback,
            allow_private,
            allow_cidrs: cidrs,
        })
    }

    /// Whether `ip` may be contacted.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), OutboundError> {
        let ip = canonical(ip);
        if self.allow_cidrs.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        let class = classify(ip);
        let allowed = match class {
            AddrClass::Public => true,
            AddrClass::Loopback => self.allow_loopback,
            AddrClass::Private => self.allow_private,
            AddrClass::LinkLocal | AddrClass::Unspecified | AddrClass::Multicast | AddrClass::Reserved => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(OutboundError::Blocked { addr: ip, class })
        }
    }

    /// Checks what can be checked of a URL before connecting: an http(s) scheme, a host,
    /// and — when the host is an IP literal — the address itself. Names are checked when
    /// they resolve (see [`OutboundClient`]).
    pub fn check_url(&self, url: &Url) -> Result<(), OutboundError> {
        match url.scheme() {
            "http" => {}
            "https" if cfg!(feature = "tls") => {}
            "https" => {
                return Err(OutboundError::InvalidUrl("https is not supported by this build".into()));
            }
            other => {
                return Err(OutboundError::InvalidUrl(format!("scheme {other} is not allowed")));
            }
        }
        match url.host() {
            None | Some(url::Host::Domain("")) => Err(OutboundError::InvalidUrl("the URL has no host".into())),
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => Ok(()),
        }
    }
}

/// IPv4-mapped and IPv4-compatible IPv6 addresses as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            // Deprecated IPv4-compatible ::a.b.c.d (but not :: and ::1).
            if s[..6] == [0; 6] && (s[6] != 0 || s[7] > 1) {
                return IpAddr::V4(Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                ));
            }
            ip
        }
        v4 => v4,
    }
}

/// The class of an address (after [`canonical`]).
pub fn classify(ip: IpAddr) -> AddrClass {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    if ip.is_unspecified() {
        return AddrClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddrClass::Loopback;
    }
    if ip.is_private() || in_v4(ip, [100, 64, 0, 0], 10) {
        return AddrClass::Private;
    }
    if ip.is_link_local() {
        return AddrClass::LinkLocal;
    }
    if ip.is_multicast() {
        return AddrClass::Multicast;
    }
    let reserved = ip.is_broadcast()
        || in_v4(ip, [0, 0, 0, 0], 8) // "this network"
        || in_v4(ip, [192, 0, 0, 0], 24) // IETF protocol assignments
        || in_v4(ip, [192, 0, 2, 0], 24) // TEST-NET-1
        || in_v4(ip, [198, 51, 100, 0], 24) // TEST-NET-2
        || in_v4(ip, [203, 0, 113, 0], 24) // TEST-NET-3
        || in_v4(ip, [198, 18, 0, 0], 15) // benchmarking
        || in_v4(ip, [192, 88, 99, 0], 24) // 6to4 relay anycast
        || in_v4(ip, [240, 0, 0, 0], 4); // reserved
    if reserved {
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    let s = ip.segments();
    if ip.is_unspecified() {
        return AddrClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddrClass::Loopback;
    }
    if s[0] & 0xfe00 == 0xfc00 {
        return AddrClass::Private; // fc00::/7 unique local
    }
    if s[0] & 0xffc0 == 0xfe80 {
        return AddrClass::LinkLocal; // fe80::/10
    }
    if s[0] & 0xff00 == 0xff00 {
        return AddrClass::Multicast;
    }
    let reserved = s[0] & 0xffc0 == 0xfec0 // deprecated site-local fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 64:ff9b::/96 and 64:ff9b:1::/48
        || s[0] == 0x2002 // 6to4 2002::/16
        || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
        || s[0] < 0x2000 || s[0] >= 0x4000; // outside global unicast 2000::/3
    if reserved {
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

/// Time limits and redirect limit of an [`OutboundClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP (and TLS) connect.
    pub connect: Duration,
    /// The whole request, redirects included, up to the response headers.
    pub total: Duration,
    pub max_redirects: usize,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(5),
            max_redirects: 3,
        }
    }
}

/// Resolves names with the system resolver and keeps only the addresses the policy allows.
struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        let fut: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| OutboundError::Resolve {
                    host: host.clone(),
                    detail: e.to_string(),
                })?;
            let (allowed, refused) = filter_addrs(&policy, found);
            if allowed.is_empty() {
                let detail = if refused.is_empty() {
                    "no addresses".to_string()
                } else {
                    refused.join(", ")
                };
                return Err(
                    Box::new(OutboundError::BlockedName { host, detail }) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            tracing::debug!(host, ?allowed, "outbound name resolved");
            Ok(Box::new(allowed.into_iter()) as Addrs)
        });
        fut
    }
}

/// Splits resolved addresses into allowed ones and descriptions of the refused ones.
fn filter_addrs(
    policy: &OutboundPolicy,
    addrs: impl IntoIterator<Item = SocketAddr>,
) -> (Vec<SocketAddr>, Vec<String>) {
    let mut allowed = Vec::new();
    let mut refused = Vec::new();
    for addr in addrs {
        match policy.check_ip(addr.ip()) {
            Ok(()) => allowed.push(addr),
            Err(e) => refused.push(e.to_string()),
        }
    }
    (allowed, refused)
}

/// An HTTP client that only reaches addresses its [`OutboundPolicy`] allows.
#[derive(Clone)]
pub struct OutboundClient {
    policy: Arc<OutboundPolicy>,
    timeouts: Timeouts,
    client: reqwest::Client,
}

impl std::fmt::Debug for OutboundClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundClient")
            .field("policy", &self.policy)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl OutboundClient {
    pub fn new(policy: OutboundPolicy, timeouts: Timeouts) -> Result<Self, OutboundError> {
        let policy = Arc::new(policy);
        let redirect_policy = policy.clone();
        let max = timeouts.max_redirects;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            // `previous` holds the first URL and every URL already redirected to.
            if attempt.previous().len() > max {
                return attempt.error(OutboundError::TooManyRedirects(max));
            }
            match redirect_policy.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        });
        let builder = reqwest::Client::builder()
            .dns_resolver(Arc::new(PolicyResolver { policy: policy.clone() }))
            .redirect(redirects)
            .no_proxy()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            .user_agent(concat!("vodstack/", env!("CARGO_PKG_VERSION")));
        #[cfg(feature = "tls")]
        let builder = {
            // Installing fails harmlessly when a provider is already installed.
            let _ = rustls::crypto::ring::default_provider().install_default();
            builder.tls_backend_rustls()
        };
        let client = builder
            .build()
            .map_err(|e| OutboundError::InvalidPolicy(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            policy,
            timeouts,
            client,
        })
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// See [`OutboundPolicy::check_url`].
    pub fn check_url(&self, url: &Url) -> Result<(), OutboundError> {
        self.policy.check_url(url)
    }

    /// A request to `url` after [`check_url`](Self::check_url); the caller adds headers and
    /// a body and sends it. Errors from sending can be examined with [`blocked_reason`].
    pub fn request(&self, method: reqwest::Method, url: &Url) -> Result<reqwest::RequestBuilder, OutboundError> {
        self.check_url(url)?;
        Ok(self.client.request(method, url.clone()))
    }
}

/// The policy error behind a failed request (a refused address, name or redirect), if that
/// is why it failed.
pub fn blocked_reason(err: &reqwest::Error) -> Option<OutboundError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(o) = e.downcast_ref::<OutboundError>() {
            return Some(o.clone());
        }
        source = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classification_table() {
        let table = [
            ("8.8.8.8", AddrClass::Public),
            ("1.1.1.1", AddrClass::Public),
            ("100.63.255.255", AddrClass::Public),
            ("100.128.0.0", AddrClass::Public),
            ("172.32.0.1", AddrClass::Public),
            ("127.0.0.1", AddrClass::Loopback),
            ("127.255.255.254", AddrClass::Loopback),
            ("10.0.0.1", AddrClass::Private),
            ("172.16.0.1", AddrClass::Private),
            ("172.31.255.255", AddrClass::Private),
            ("192.168.1.1", AddrClass::Private),
            ("100.64.0.1", AddrClass::Private),
            ("100.127.255.255", AddrClass::Private),
            ("169.254.169.254", AddrClass::LinkLocal),
            ("0.0.0.0", AddrClass::Unspecified),
            ("0.1.2.3", AddrClass::Reserved),
            ("224.0.0.1", AddrClass::Multicast),
            ("239.255.255.250", AddrClass::Multicast),
            ("255.255.255.255", AddrClass::Reserved),
            ("192.0.2.1", AddrClass::Reserved),
            ("198.18.0.1", AddrClass::Reserved),
            ("240.0.0.1", AddrClass::Reserved),
            ("2606:4700:4700::1111", AddrClass::Public),
            ("::1", AddrClass::Loopback),
            ("::", AddrClass::Unspecified),
            ("fc00::1", AddrClass::Private),
            ("fd12:3456::1", AddrClass::Private),
            ("fe80::1", AddrClass::LinkLocal),
            ("ff02::1", AddrClass::Multicast),
            ("2001:db8::1", AddrClass::Reserved),
            ("64:ff9b::a00:1", AddrClass::Reserved),
            ("2002:a00:1::1", AddrClass::Reserved),
            ("::ffff:127.0.0.1", AddrClass::Loopback),
            ("::ffff:10.0.0.1", AddrClass::Private),
            ("::ffff:169.254.169.254", AddrClass::LinkLocal),
            ("::ffff:8.8.8.8", AddrClass::Public),
            ("::127.0.0.1", AddrClass::Loopback),
        ];
        for (addr, class) in table {
            assert_eq!(classify(ip(addr)), class, "{addr}");
        }
    }

    #[test]
    fn policy_decisions() {
        let strict = OutboundPolicy::strict();
        assert!(strict.check_ip(ip("8.8.8.8")).is_ok());
        for refused in [
            "127.0.0.1",
            "::1",
            "10.1.2.3",
            "fd00::1",
            "169.254.169.254",
            "0.0.0.0",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(strict.check_ip(ip(refused)).is_err(), "{refused} refused by default");
        }
        let loopback = OutboundPolicy {
            allow_loopback: true,
            ..Default::default()
        };
        assert!(loopback.check_ip(ip("127.0.0.1")).is_ok());
        assert!(loopback.check_ip(ip("::1")).is_ok());
        assert!(loopback.check_ip(ip("::ffff:127.0.0.1")).is_ok());
        assert!(
            loopback.check_ip(ip("10.0.0.1")).is_err(),
            "loopback does not open private ranges"
        );
        assert!(loopback.check_ip(ip("0.0.0.0")).is_err(), "0.0.0.0 is not loopback");
        let private = OutboundPolicy {
            allow_private: true,
            ..Default::default()
        };
        assert!(private.check_ip(ip("192.168.0.10")).is_ok());
        assert!(private.check_ip(ip("100.64.1.1")).is_ok());
        assert!(private.check_ip(ip("fd00::1")).is_ok());
        assert!(private.check_ip(ip("127.0.0.1")).is_err());
        assert!(
            private.check_ip(ip("169.254.169.254")).is_err(),
            "link-local needs an explicit CIDR"
        );
        let cidr = OutboundPolicy::from_settings(false, false, &["10.1.0.0/16".into(), "169.254.1.1".into()]).unwrap();
        assert!(cidr.check_ip(ip("10.1.200.3")).is_ok());
        assert!(cidr.check_ip(ip("10.2.0.1")).is_err());
        assert!(cidr.check_ip(ip("169.254.1.1")).is_ok());
        assert!(OutboundPolicy::from_settings(false, false, &["nonsense".into()]).is_err());
        match strict.check_ip(ip("::ffff:10.0.0.1")) {
            Err(OutboundError::Blocked { addr, class }) => {
                assert_eq!(addr, ip("10.0.0.1"));
                assert_eq!(class, AddrClass::Private);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn urls() {
        let strict = OutboundPolicy::strict();
        let check = |u: &str| strict.check_url(&Url::parse(u).unwrap());
        assert!(
            check("http://example.com/cb").is_ok(),
            "names are checked when resolved"
        );
        assert!(check("http://8.8.8.8:8080/cb").is_ok());
        assert!(matches!(
            check("http://127.0.0.1:8080/cb"),
            Err(OutboundError::Blocked { .. })
        ));
        assert!(matches!(check("http://[::1]/cb"), Err(OutboundError::Blocked { .. })));
        assert!(matches!(
            check("http://[::ffff:7f00:1]/cb"),
            Err(OutboundError::Blocked { .. })
        ));
        assert!(
            matches!(check("http://0x7f.1/cb"), Err(OutboundError::Blocked { .. })),
            "URL parsing normalizes 0x7f.1"
        );
        assert!(
            matches!(check("http://2130706433/cb"), Err(OutboundError::Blocked { .. })),
            "decimal form of 127.0.0.1"
        );
        assert!(matches!(
            check("ftp://example.com/x"),
            Err(OutboundError::InvalidUrl(_))
        ));
        assert!(matches!(check("file:///etc/passwd"), Err(OutboundError::InvalidUrl(_))));
        assert!(
            OutboundError::Blocked {
                addr: ip("10.0.0.1"),
                class: AddrClass::Private
            }
            .is_permanent()
        );
        assert!(
            !OutboundError::Resolve {
                host: "x".into(),
                detail: "y".into()
            }
            .is_permanent()
        );
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        let strict = OutboundPolicy::strict();
        let addrs: Vec<SocketAddr> = ["8.8.8.8:0", "10.0.0.1:0", "127.0.0.1:0"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let (allowed, refused) = filter_addrs(&strict, addrs);
        assert_eq!(allowed, vec!["8.8.8.8:0".parse::<SocketAddr>().unwrap()]);
        assert_eq!(refused.len(), 2);
    }

    #[tokio::test]
    async fn resolver_refuses_localhost_unless_allowed() {
        let strict = PolicyResolver {
            policy: Arc::new(OutboundPolicy::strict()),
        };
        let err = strict
            .resolve(Name::from_str("localhost").unwrap())
            .await
            .err()
            .expect("refused");
        let err = err.downcast_ref::<OutboundError>().expect("an OutboundError");
        assert!(matches!(err, OutboundError::BlockedName { .. }), "{err:?}");

        let open = PolicyResolver {
            policy: Arc::new(OutboundPolicy {
                allow_loopback: true,
                ..Default::default()
            }),
        };
        let addrs: Vec<SocketAddr> = open
            .resolve(Name::from_str("localhost").unwrap())
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
