//! BPF filters (`-f EXPR` or trailing words), compiled by libpcap and applied in user
//! space, so file packets are filtered exactly as `tcpdump -r` would filter them.
//!
//! A capture file may mix link types (pcapng), and a BPF program is only meaningful for
//! the link type it was compiled for, so one program is compiled per link type, lazily.

use pcap::{BpfProgram, Capture, Linktype};

use super::{Frame, LinkType};

/// A filter expression that libpcap rejected.
#[derive(Debug, thiserror::Error)]
#[error("bad filter expression '{expr}': {reason}")]
pub struct BpfError {
    /// The expression as given.
    pub expr: String,
    /// libpcap's complaint.
    pub reason: String,
}

/// A compiled BPF expression, one program per link type seen.
pub struct Filter {
    expr: String,
    /// `None`: the expression cannot apply to that link type, so nothing of it matches.
    programs: Vec<(LinkType, Option<BpfProgram>)>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter").field("expr", &self.expr).finish_non_exhaustive()
    }
}

impl Filter {
    /// Compiles `expr` for `linktype`, failing with libpcap's message if it is invalid.
    pub fn new(expr: &str, linktype: LinkType) -> Result<Self, BpfError> {
        let program = compile(expr, linktype)?;
        Ok(Filter { expr: expr.to_string(), programs: vec![(linktype, Some(program))] })
    }

    /// The expression as given.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Whether the frame passes the filter.
    pub fn matches(&mut self, frame: &Frame<'_>) -> bool {
        let idx = match self.programs.iter().position(|(lt, _)| *lt == frame.linktype) {
            Some(i) => i,
            None => {
                self.programs.push((frame.linktype, compile(&self.expr, frame.linktype).ok()));
                self.programs.len() - 1
            }
        };
        self.programs[idx].1.as_ref().is_some_and(|p| run(p, frame))
    }
}

unsafe extern "C" {
    /// libpcap's BPF interpreter (`pcap/bpf.h`): `wirelen` is the packet's length on the
    /// wire, `buflen` the bytes captured. The pcap crate's `BpfProgram::filter` gives both
    /// as the captured length, so `greater`, `less` and `len` would judge a packet cut by
    /// the snap length by its cut size, unlike `tcpdump -r`.
    fn bpf_filter(pc: *const pcap::BpfInstruction, pkt: *const u8, wirelen: u32, buflen: u32) -> u32;
}

/// Whether `frame` passes `program`, judged on its wire length as libpcap does.
fn run(program: &BpfProgram, frame: &Frame<'_>) -> bool {
    let insns = program.get_instructions();
    if insns.is_empty() {
        return program.filter(frame.data);
    }
    let buflen = u32::try_from(frame.data.len()).unwrap_or(u32::MAX);
    // SAFETY: `insns` is the compiled program libpcap made (BpfInstruction is
    // repr(transparent) over its bpf_insn), valid while `program` lives; libpcap's
    // interpreter reads at most `buflen` bytes of `frame.data`, which has them.
    unsafe { bpf_filter(insns.as_ptr(), frame.data.as_ptr(), frame.orig_len.max(buflen), buflen) != 0 }
}

fn compile(expr: &str, linktype: LinkType) -> Result<BpfProgram, BpfError> {
    let err = |reason: String| BpfError { expr: expr.to_string(), reason };
    let dead = Capture::dead_with_precision(Linktype(dlt_of(linktype)), pcap::Precision::Nano)
        .map_err(|e| err(e.to_string()))?;
    dead.compile(expr, true).map_err(|e| err(clean(&e.to_string())))
}

/// libpcap's `pcap_open_dead` takes a DLT value, which differs from the file's LINKTYPE
/// value for a few old types (libpcap's own `linktype_to_dlt` mapping, for those we meet).
fn dlt_of(linktype: LinkType) -> i32 {
    match linktype.0 {
        100 => 11, // ATM RFC 1483
        101 => 12, // raw IP
        102 => 15, // SLIP BSD/OS
        103 => 16, // PPP BSD/OS
        lt => i32::from(lt),
    }
}

/// libpcap's messages arrive as "libpcap error: can't parse filter expression: syntax error".
fn clean(msg: &str) -> String {
    msg.trim_start_matches("libpcap error: ").trim_start_matches("can't parse filter expression: ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(data: &[u8]) -> Frame<'_> {
        Frame { ts: 0, linktype: LinkType::RAW, data, orig_len: data.len() as u32 }
    }

    #[test]
    fn rejects_nonsense() {
        let e = Filter::new("tcp port", LinkType::ETHERNET).unwrap_err();
        assert!(e.to_string().starts_with("bad filter expression 'tcp port'"), "{e}");
    }

    #[test]
    fn filters_by_protocol_on_raw_ip() {
        let mut f = Filter::new("udp", LinkType::RAW).unwrap();
        // Minimal IPv4 header with protocol 17, then 8 bytes of UDP.
        let mut pkt = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        pkt.extend_from_slice(&[0, 53, 0, 53, 0, 8, 0, 0]);
        assert!(f.matches(&frame(&pkt)));
        pkt[9] = 6;
        assert!(!f.matches(&frame(&pkt)));
    }

    #[test]
    fn lengths_are_the_wire_lengths_as_in_tcpdump() {
        // A 942-byte datagram cut to its first 28 bytes by the snap length.
        let mut pkt = vec![0x45, 0, 0x03, 0xae, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        pkt.extend_from_slice(&[0, 53, 0, 53, 0x03, 0x9a, 0, 0]);
        let cut = Frame { ts: 0, linktype: LinkType::RAW, data: &pkt, orig_len: 942 };
        assert!(Filter::new("greater 500", LinkType::RAW).unwrap().matches(&cut));
        assert!(!Filter::new("less 500", LinkType::RAW).unwrap().matches(&cut));
        assert!(!Filter::new("greater 500", LinkType::RAW).unwrap().matches(&frame(&pkt)));
    }
}
