/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * RSTs that no TCP socket sent: a firewall rule's `reject with tcp reset`
 * (nf_send_reset, IPv4 and IPv6, any hook) builds a RST outside the TCP
 * stack, so no TCP tracepoint fires for it. Every such RST is queued to a
 * device (net_dev_queue), where this host's own RSTs can be told apart:
 *   - a packet with a socket (skb->sk) is a socket's: a full socket's RST
 *     passes here just before its tcp_send_reset, a TIME_WAIT or request
 *     socket's carries it for early demux, raw and packet sockets carry theirs;
 *   - a packet that arrived on an interface (skb_iif) is being forwarded;
 *   - the stack's socket-less RSTs pass right after their tcp_send_reset on
 *     the same CPU, which left their tuple in the per-CPU hand-off.
 * What remains was built in this namespace by netfilter. The context task is
 * whoever sent the rejected segment: it is never blamed (no owner, no socket).
 *
 * net_dev_queue runs for every packet the host sends: the common packet (with
 * a socket) leaves after one load.
 */
#ifndef RSTRACE_FIREWALL_BPF_H
#define RSTRACE_FIREWALL_BPF_H

#include "handoff.bpf.h"
#include "record.bpf.h"
#include "segment.bpf.h"

static __always_inline void firewall_rst(struct sk_buff *skb)
{
	struct segment g;
	struct rst_record *e;

	if (skb->sk || skb->skb_iif)
		return;
	if (!parse_rst(skb, skb->protocol, &g))
		return;
	if (take_stack_rst(rst_tuple_key(g.saddr, g.daddr, g.sport, g.dport)))
		return;
	e = reserve(RST_KIND_SENT, RST_HOOK_NET_DEV_QUEUE);
	if (!e)
		return;
	fill_context(e, false);
	/* The RST speaks for the side that rejected: its source is "this host"
	 * (the rejected segment's destination), its destination the peer. */
	e->family = g.family;
	for (int i = 0; i < 4; i++) {
		((__u32 *)e->laddr)[i] = g.saddr[i];
		((__u32 *)e->raddr)[i] = g.daddr[i];
	}
	e->lport = g.sport;
	e->rport = g.dport;
	/* the RST's own flags: RST|ACK answers a segment without ACK (a SYN) */
	e->tcp_flags = g.flags;
	e->netns = skb->dev ? skb->dev->nd_net.net->ns.inum : 0;
	fill_sock_none(e);
	e->seq = g.seq;
	e->ack_seq = g.ack_seq;
	e->flags |= RST_F_SEQ;
	submit(e);
}

#endif /* RSTRACE_FIREWALL_BPF_H */
