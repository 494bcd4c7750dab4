//! IPv4 CIDR blocks: the cluster's pod range and the per-node blocks cut from it, counted
//! as Kubernetes' `cidrset` counts them (block `i` starts `i` block sizes into the range).

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("invalid CIDR address: {0}")]
    Invalid(String),
    #[error("the node CIDR mask size /{node} is smaller than the cluster CIDR's /{cluster}")]
    NodeMaskSmallerThanCluster { node: u8, cluster: u8 },
    #[error("the node CIDR mask size /{0} is larger than /32")]
    NodeMaskTooLarge(u8),
    /// Kubernetes' `ErrCIDRSetSubNetTooBig`: at most 2^16 blocks are tracked.
    #[error("New CIDR set failed; the node CIDR size is too big")]
    TooManyBlocks,
}

/// At most 2^16 node blocks per cluster range, as Kubernetes' `cidrset` allows.
const MAXIMUM_BLOCK_BITS: u8 = 16;

/// An IPv4 network: its first address and prefix length; host bits are cleared when
/// parsed, as Go's `net.ParseCIDR` gives the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix_length: u8,
}

impl Ipv4Cidr {
    /// wasmkube's pod network, 10.244.0.0/16 (flannel's and k3s' default too).
    pub const POD_NETWORK: Ipv4Cidr = Ipv4Cidr {
        network: Ipv4Addr::new(10, 244, 0, 0),
        prefix_length: 16,
    };

    pub fn new(address: Ipv4Addr, prefix_length: u8) -> Result<Ipv4Cidr, CidrError> {
        if prefix_length > 32 {
            return Err(CidrError::Invalid(format!("{address}/{prefix_length}")));
        }
        Ok(Ipv4Cidr {
            network: Ipv4Addr::from(u32::from(address) & mask(prefix_length)),
            prefix_length,
        })
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix_length(&self) -> u8 {
        self.prefix_length
    }

    fn first(&self) -> u32 {
        u32::from(self.network)
    }

    fn last(&self) -> u32 {
        self.first() | !mask(self.prefix_length)
    }
}

fn mask(prefix_length: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_length))
        .unwrap_or(0)
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.network, self.prefix_length)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Ipv4Cidr, CidrError> {
        let invalid = || CidrError::Invalid(text.to_owned());
        let (address, prefix_length) = text.split_once('/').ok_or_else(invalid)?;
        let address: Ipv4Addr = address.parse().map_err(|_| invalid())?;
        let all_digits =
            !prefix_length.is_empty() && prefix_length.bytes().all(|b| b.is_ascii_digit());
        let prefix_length: u8 = if all_digits {
            prefix_length.parse().map_err(|_| invalid())?
        } else {
            return Err(invalid());
        };
        Ipv4Cidr::new(address, prefix_length).map_err(|_| invalid())
    }
}

/// The cluster range cut into node blocks of one mask size (Kubernetes' `CidrSet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NodeBlocks {
    cluster: Ipv4Cidr,
    block_prefix_length: u8,
}

impl NodeBlocks {
    pub(super) fn new(cluster: Ipv4Cidr, block_prefix_length: u8) -> Result<NodeBlocks, CidrError> {
        if block_prefix_length > 32 {
            return Err(CidrError::NodeMaskTooLarge(block_prefix_length));
        }
        if block_prefix_length < cluster.prefix_length {
            return Err(CidrError::NodeMaskSmallerThanCluster {
                node: block_prefix_length,
                cluster: cluster.prefix_length,
            });
        }
        if block_prefix_length - cluster.prefix_length > MAXIMUM_BLOCK_BITS {
            return Err(CidrError::TooManyBlocks);
        }
        Ok(NodeBlocks {
            cluster,
            block_prefix_length,
        })
    }

    pub(super) fn cluster(&self) -> Ipv4Cidr {
        self.cluster
    }

    pub(super) fn count(&self) -> u32 {
        1 << (self.block_prefix_length - self.cluster.prefix_length)
    }

    fn block_bits(&self) -> u32 {
        32 - u32::from(self.block_prefix_length)
    }

    /// Block `index`, which must be below `count`.
    pub(super) fn block(&self, index: u32) -> Ipv4Cidr {
        let start = self.cluster.first() + index.checked_shl(self.block_bits()).unwrap_or(0);
        Ipv4Cidr {
            network: Ipv4Addr::from(start),
            prefix_length: self.block_prefix_length,
        }
    }

    /// The blocks that `cidr` overlaps (all of them for a larger network, the one holding
    /// it for a smaller one), as Kubernetes' `Occupy` marks them; none outside the range.
    pub(super) fn overlapped_by(&self, cidr: &Ipv4Cidr) -> Option<RangeInclusive<u32>> {
        let start = cidr.first().max(self.cluster.first());
        let end = cidr.last().min(self.cluster.last());
        let offset = |address: u32| (address - self.cluster.first()) >> self.block_bits();
        (start <= end).then(|| offset(start)..=offset(end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Ipv4Cidr {
        text.parse().expect("a CIDR")
    }

    #[test]
    fn cidrs_parse_as_go_parses_them() {
        assert_eq!(cidr("10.244.0.0/16"), Ipv4Cidr::POD_NETWORK);
        assert_eq!(cidr("10.244.3.7/16").to_string(), "10.244.0.0/16");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        for bad in [
            "10.244.0.0",
            "10.244.0.0/33",
            "10.244.0.0/",
            "10.244/16",
            "fd00::/64",
            "10.0.0.0/+8",
        ] {
            assert_eq!(
                bad.parse::<Ipv4Cidr>(),
                Err(CidrError::Invalid(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn node_blocks_are_cut_in_order_and_marked_by_overlap() {
        let blocks = NodeBlocks::new(cidr("10.244.0.0/16"), 24).expect("blocks");
        assert_eq!(blocks.count(), 256);
        assert_eq!(blocks.block(0).to_string(), "10.244.0.0/24");
        assert_eq!(blocks.block(255).to_string(), "10.244.255.0/24");
        assert_eq!(blocks.overlapped_by(&cidr("10.244.7.0/24")), Some(7..=7));
        assert_eq!(blocks.overlapped_by(&cidr("10.244.7.128/25")), Some(7..=7));
        assert_eq!(blocks.overlapped_by(&cidr("10.244.4.0/22")), Some(4..=7));
        assert_eq!(blocks.overlapped_by(&cidr("10.0.0.0/8")), Some(0..=255));
        assert_eq!(blocks.overlapped_by(&cidr("10.245.0.0/24")), None);
    }

    #[test]
    fn impossible_block_sizes_are_refused() {
        let cluster = cidr("10.244.0.0/16");
        assert_eq!(
            NodeBlocks::new(cluster, 15),
            Err(CidrError::NodeMaskSmallerThanCluster {
                node: 15,
                cluster: 16
            })
        );
        assert_eq!(
            NodeBlocks::new(cluster, 33),
            Err(CidrError::NodeMaskTooLarge(33))
        );
        assert_eq!(
            NodeBlocks::new(cidr("10.0.0.0/8"), 25),
            Err(CidrError::TooManyBlocks)
        );
        assert_eq!(
            NodeBlocks::new(cluster, 32).map(|blocks| blocks.count()),
            Ok(65536)
        );
    }
}
