/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A TCP segment's headers read straight from an skb, for the hooks that see
 * packets rather than sockets (net_dev_queue, kfree_skb). The packet bytes
 * are reached with bpf_rdonly_cast: plain fault-safe loads, no
 * bpf_probe_read_kernel() call per packet. The TCP header is found from the
 * IP header's own length, not from skb->transport_header, which a firewall's
 * RST (nf_send_reset) leaves equal to network_header.
 */
#ifndef RSTRACE_SEGMENT_BPF_H
#define RSTRACE_SEGMENT_BPF_H

#include "sock.bpf.h"

extern void *bpf_rdonly_cast(const void *obj__ign, __u32 btf_id__k) __ksym;

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

struct segment {
	__u32 saddr[4];
	__u32 daddr[4];
	__u32 seq;
	__u32 ack_seq;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 flags;
};

/* The IP and TCP headers of `skb` (protocol in network byte order) when it is
 * a TCP segment, with RST set if `need_rst`; false for anything else, after as
 * few loads as the packet allows. IPv6 with extension headers is not followed. */
static __always_inline bool parse_tcp(const struct sk_buff *skb, __u16 proto_be, struct segment *g, bool need_rst)
{
	unsigned char *nh = skb->head + skb->network_header;
	struct tcphdr *th;
	__u8 flags;

	if (proto_be == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = bpf_rdonly_cast(nh, bpf_core_type_id_kernel(struct iphdr));

		if (ip->protocol != IPPROTO_TCP)
			return false;
		th = bpf_rdonly_cast(nh + (ip->ihl << 2), bpf_core_type_id_kernel(struct tcphdr));
		flags = ((__u8 *)th)[13];
		if (need_rst && !(flags & TCPF_RST))
			return false;
		g->family = AF_INET;
		g->saddr[0] = ip->saddr;
		g->daddr[0] = ip->daddr;
		g->saddr[1] = g->saddr[2] = g->saddr[3] = 0;
		g->daddr[1] = g->daddr[2] = g->daddr[3] = 0;
	} else if (proto_be == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = bpf_rdonly_cast(nh, bpf_core_type_id_kernel(struct ipv6hdr));

		if (ip6->nexthdr != IPPROTO_TCP)
			return false;
		th = bpf_rdonly_cast(nh + sizeof(struct ipv6hdr), bpf_core_type_id_kernel(struct tcphdr));
		flags = ((__u8 *)th)[13];
		if (need_rst && !(flags & TCPF_RST))
			return false;
		g->family = AF_INET6;
		for (int i = 0; i < 4; i++) {
			g->saddr[i] = ip6->saddr.in6_u.u6_addr32[i];
			g->daddr[i] = ip6->daddr.in6_u.u6_addr32[i];
		}
	} else {
		return false;
	}
	g->flags = flags;
	g->sport = bpf_ntohs(th->source);
	g->dport = bpf_ntohs(th->dest);
	g->seq = bpf_ntohl(th->seq);
	g->ack_seq = bpf_ntohl(th->ack_seq);
	return true;
}

static __always_inline bool parse_rst(const struct sk_buff *skb, __u16 proto_be, struct segment *g)
{
	return parse_tcp(skb, proto_be, g, true);
}

#endif /* RSTRACE_SEGMENT_BPF_H */
