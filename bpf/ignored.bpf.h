/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * RSTs that reached a socket and were freed with it (kfree_skb with rx_sk):
 * the kernel refused them and the connection lives on (out of window, in
 * window but not exact: RFC 5961's challenge ACK, a wrong ACK in SYN_SENT),
 * except one case: the RST that kills a TIME_WAIT stand-in, for which no
 * tcp_receive_reset fires. A RST the kernel accepts on a full socket is freed
 * without this tracepoint (tcp_receive_reset reports it), so every RST freed
 * here with a full socket was refused.
 *
 * kfree_skb fires for every packet dropped on the host: drops without a
 * socket (most) leave on the argument alone, others after a look at the
 * socket's protocol and the segment's RST bit.
 */
#ifndef RSTRACE_IGNORED_BPF_H
#define RSTRACE_IGNORED_BPF_H

#include "record.bpf.h"
#include "segment.bpf.h"

/* Whether the RST with sequence number `seq` ends the TIME_WAIT stand-in
 * `sk` (tcp_timewait_state_process): in FIN_WAIT2 any in-window RST, in
 * TIME_WAIT only the exact one, unless net.ipv4.tcp_rfc1337 protects it. */
static __always_inline bool kills_timewait(struct sock *sk, __u32 seq, __u32 rcv_nxt, __u32 rcv_wnd,
					  __u32 reason)
{
	struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(sk);

	if (!tw)
		return false;
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_TCP_RFC7323_TW_PAWS) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_RFC7323_TW_PAWS))
		return false;
	if (tw->tw_sk.tw_substate == TCP_FIN_WAIT2)
		return seq - rcv_nxt <= rcv_wnd;
	if (seq != rcv_nxt)
		return false;
	return !sk->__sk_common.skc_net.net->ipv4.sysctl_tcp_rfc1337;
}

/* The address part from a segment this host received (this host is its destination). */
static __always_inline void fill_addrs_segment(struct rst_record *e, const struct segment *g)
{
	e->family = g->family;
	for (int i = 0; i < 4; i++) {
		((__u32 *)e->laddr)[i] = g->daddr[i];
		((__u32 *)e->raddr)[i] = g->saddr[i];
	}
	e->lport = g->dport;
	e->rport = g->sport;
	e->tcp_flags = g->flags;
}

static __always_inline void freed_rst(struct sk_buff *skb, __u32 reason, struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;
	__u8 state = sk->__sk_common.skc_state;
	__u32 rcv_nxt, rcv_wnd;
	struct segment g;
	struct rst_record *e;
	bool killed = false;

	if (family != AF_INET && family != AF_INET6)
		return;
	/* request sockets (NEW_SYN_RECV) are not followed here */
	if (state == TCP_NEW_SYN_RECV)
		return;
	if (state != TCP_TIME_WAIT && sk->sk_protocol != IPPROTO_TCP)
		return;
	if (!parse_rst(skb, skb->protocol, &g))
		return;
	if (state == TCP_TIME_WAIT) {
		struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(sk);

		rcv_nxt = sk->__sk_common.skc_tw_rcv_nxt;
		rcv_wnd = tw ? tw->tw_rcv_wnd : 0;
		killed = kills_timewait(sk, g.seq, rcv_nxt, rcv_wnd, reason);
	} else {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

		if (!tp)
			return;
		rcv_nxt = tp->rcv_nxt;
		rcv_wnd = tp->rcv_wnd;
	}
	e = reserve(killed ? RST_KIND_RECEIVED : RST_KIND_IGNORED, RST_HOOK_KFREE_SKB);
	if (!e)
		return;
	/* the context is whoever sent the segment (the sender's task on loopback) */
	fill_context(e, false);
	/* a listener's own addresses are a wildcard: the segment names the peer */
	if (state == TCP_LISTEN)
		fill_addrs_segment(e, &g);
	else
		fill_addrs_sk(e, sk);
	fill_sock(e, sk);
	if (!killed) {
		e->reason = reason;
		e->flags |= RST_F_DROP_REASON;
	}
	e->seq = g.seq;
	e->ack_seq = g.ack_seq;
	e->rcv_nxt = rcv_nxt;
	e->rcv_wnd = rcv_wnd;
	e->flags |= RST_F_SEQ;
	e->tcp_flags = g.flags;
	submit(e);
}

#endif /* RSTRACE_IGNORED_BPF_H */
