//! Community ID v1 (corelight's community-id-spec): one hash of a flow that Zeek,
//! Suricata, Arkime and Elastic compute alike, so records from different tools join.

use std::net::IpAddr;

/// The flow's Community ID with seed 0 (`1:` and a base64 SHA-1), from the originator's
/// side: ports for TCP, UDP and SCTP, ICMP type and code for ICMP and ICMPv6 (the spec
/// maps a reply onto its request), nothing for other protocols. `None` for a flow the
/// spec does not cover (mixed address families).
pub fn community_id(
    ip_proto: u8,
    orig: (IpAddr, Option<u16>),
    resp: (IpAddr, Option<u16>),
    icmp: Option<(u8, u8)>,
) -> Option<String> {
    let (sp, dp) = match ip_proto {
        6 | 17 | 132 => (orig.1, resp.1),
        1 | 58 => match icmp {
            Some((t, c)) => (Some(u16::from(t)), Some(u16::from(c))),
            None => (None, None),
        },
        _ => (None, None),
    };
    community_id::calculate_community_id(0, orig.0, resp.0, sp, dp, ip_proto, false).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The spec's baseline table (community-id-spec/baseline/README.md, default seed).
    #[test]
    fn the_specs_baseline_vectors() {
        let (a4, b4) = (ip("1.2.3.4"), ip("5.6.7.8"));
        let (a6, b6) = (ip("fe80:0001:0203:0405:0607:0809:0A0B:0C0D"), ip("fe80:1011:1213:1415:1617:1819:1A1B:1C1D"));
        type Case = (u8, IpAddr, Option<u16>, IpAddr, Option<u16>, Option<(u8, u8)>, &'static str);
        let cases: &[Case] = &[
            (6, a4, Some(1122), b4, Some(3344), None, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
            (6, b4, Some(3344), a4, Some(1122), None, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
            (17, a4, Some(1122), b4, Some(3344), None, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
            (17, b4, Some(3344), a4, Some(1122), None, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
            (132, a4, Some(1122), b4, Some(3344), None, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="),
            (1, a4, None, b4, None, Some((8, 0)), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
            (1, b4, None, a4, None, Some((0, 0)), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
            (1, a4, None, b4, None, Some((11, 0)), "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="),
            (58, a6, None, b6, None, Some((128, 0)), "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="),
            (58, b6, None, a6, None, Some((129, 0)), "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="),
            (58, a6, None, b6, None, Some((146, 0)), "1:fYC8+pz24E+EhANP1EZhpX0Dw10="),
            (46, a4, None, b4, None, None, "1:ikv3kmf89luf73WPz1jOs49S768="),
            (46, b4, None, a4, None, None, "1:ikv3kmf89luf73WPz1jOs49S768="),
            (46, a6, None, b6, None, None, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0="),
        ];
        for &(proto, s, sp, d, dp, icmp, want) in cases {
            assert_eq!(community_id(proto, (s, sp), (d, dp), icmp).as_deref(), Some(want), "{proto} {s} {d}");
        }
        assert_eq!(community_id(6, (a4, Some(1)), (b6, Some(2)), None), None, "mixed families");
    }
}
