// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rstrace: one fixed-size record per TCP reset (sent, received) and per
 * reset-type abort (SYN timeout, ICMP unreachable, retransmit timeout,
 * destroy), written to a ring buffer. Only tracepoints: they are the stable
 * interface, and fentry/kprobes are not available on every host.
 *
 * Everything that means something is decided in user space; this program
 * gathers the kernel facts that are gone a moment later (owner, state before
 * the reset, flags, queues) and counts every record it could not deliver.
 * This file holds the programs; the rooms they use live beside it:
 * record.bpf.h (fill and deliver a record), owner.bpf.h (who owns a socket),
 * handoff.bpf.h (per-CPU hand-off between hooks), sock.bpf.h (predicates),
 * segment.bpf.h (a RST's headers from an skb), firewall.bpf.h (RSTs no
 * socket sent), ignored.bpf.h (RSTs the kernel refused).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "rstrace.h"
#include "sock.bpf.h"
#include "owner.bpf.h"
#include "handoff.bpf.h"
#include "record.bpf.h"
#include "netns-count.bpf.h"
#include "firewall.bpf.h"
#include "ignored.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Pretend the kernel has no sk_rst_reason (tests the pre-6.10 path). */
const volatile bool assume_no_reason = false;
/* Set when the firewall hook (net_dev_queue) is attached: only then does it
 * need the stack's RST tuples, and a storm need not pay for noting them. */
const volatile bool note_stack_rsts = false;

SEC("tp_btf/tcp_send_reset")
int handle_send_reset(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	struct sk_buff *skb = (struct sk_buff *)ctx[1];
	bool task = in_task(sk);
	struct rst_record *e;

	count_send_reset_netns(sk, skb);
	/* The RST answering this segment is queued next, on this CPU: its tuple
	 * is the segment's reversed. Noted before the reserve, which may fail. */
	if (note_stack_rsts && skb) {
		struct segment g;

		if (parse_tcp(skb, skb->protocol, &g, false))
			remember_stack_rst(rst_tuple_key(g.daddr, g.saddr, g.dport, g.sport));
	}
	e = reserve(RST_KIND_SENT, RST_HOOK_SEND_RESET);
	if (!e)
		return 0;
	if (bpf_core_enum_value_exists(enum sk_rst_reason, SK_RST_REASON_NOT_SPECIFIED) &&
	    !assume_no_reason) {
		e->reason = (__u32)ctx[2];
		e->flags |= RST_F_HAS_REASON;
	}
	fill_context(e, task);
	/* A listener's reset (accept queue overflow) and a socket-less one are
	 * best described by the segment that provoked them. */
	if (skb && (!sk || sk->__sk_common.skc_state == TCP_LISTEN))
		fill_addrs_skb(e, skb);
	else if (sk)
		fill_addrs_sk(e, sk);
	else
		fill_addrs_none(e);
	if (sk) {
		fill_sock(e, sk);
		if (e->state == TCP_CLOSE) {
			struct cpu_scratch *s = get_scratch();

			if (s && (e->prev_state = closed_from(s, e->cookie)))
				e->flags |= RST_F_PREV_STATE;
		}
		remember_reset(e->cookie);
	} else {
		fill_sock_none(e);
	}
	submit(e);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int handle_receive_reset(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	struct rst_record *e;

	if (!sk)
		return 0;
	e = reserve(RST_KIND_RECEIVED, RST_HOOK_RECEIVE_RESET);
	if (!e)
		return 0;
	fill_context(e, in_task(sk));
	fill_addrs_sk(e, sk);
	fill_sock(e, sk);
	remember_reset(e->cookie);
	/* The hook has no segment: the RST it accepted carried rcv_nxt (RFC 5961). */
	if (e->flags & RST_F_FULLSOCK) {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

		if (tp) {
			e->seq = tp->rcv_nxt;
			e->rcv_nxt = tp->rcv_nxt;
			e->rcv_wnd = tp->rcv_wnd;
			e->flags |= RST_F_SEQ;
		}
	}
	submit(e);
	return 0;
}

/* Firewall-made RSTs (firewall.bpf.h): optional, per packet sent. */
SEC("tp_btf/net_dev_queue")
int handle_net_dev_queue(__u64 *ctx)
{
	firewall_rst((struct sk_buff *)ctx[0]);
	return 0;
}

/* RSTs the kernel refused, and the one that kills a TIME_WAIT stand-in (ignored.bpf.h). */
SEC("tp_btf/kfree_skb")
int handle_kfree_skb(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[3];

	if (!sk)
		return 0;
	freed_rst((struct sk_buff *)ctx[0], (__u32)ctx[2], sk);
	return 0;
}

/* Owners are recorded on transitions that only a syscall makes (connect,
 * listen, close, shutdown), and the state left on the way to CLOSE is kept
 * for the reset that may follow. A move to CLOSE with a socket error and no
 * reset just reported is a reset-type abort.
 *
 * Every TCP state change of the host passes here (ten per short connection),
 * and half of them are of no use: the new state, a register, is tested before
 * anything is read from the socket. */
SEC("tp_btf/inet_sock_set_state")
int handle_set_state(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	int oldstate = (int)ctx[1];
	int newstate = (int)ctx[2];
	struct cpu_scratch *s;
	struct rst_record *e;
	__u64 cookie;
	int err;

	switch (newstate) {
	case TCP_SYN_SENT:
	case TCP_LISTEN:
	case TCP_FIN_WAIT1:
	case TCP_LAST_ACK:
	case TCP_CLOSE:
		break;
	default:
		return 0;
	}
	if (!sk || !is_tcp_inet(sk))
		return 0;

	if (newstate != TCP_CLOSE) {
		if (in_task(sk)) {
			/* one read of the task's identity serves every map */
			struct owner *o = remember_owner(sk);

			if (newstate == TCP_LISTEN)
				remember_listener(sk, o);
			/* Only an active close can leave a TIME_WAIT stand-in, which
			 * has no storage of its own; a passive closer (LAST_ACK) keeps
			 * its full socket, and its storage, to the end. */
			else if (newstate == TCP_FIN_WAIT1)
				remember_closer(sk, o);
		}
		return 0;
	}

	cookie = bpf_get_socket_cookie(sk);
	s = get_scratch();
	if (!s)
		return 0;
	remember_closed(s, cookie, oldstate);

	if (oldstate == TCP_CLOSE || oldstate == TCP_LISTEN || oldstate == TCP_TIME_WAIT)
		return 0;
	err = sk->sk_err;
	if (err == 0 || reset_reported(s, cookie))
		return 0;

	e = reserve(RST_KIND_ABORT, RST_HOOK_SET_STATE);
	if (!e)
		return 0;
	fill_context(e, in_task(sk));
	fill_addrs_sk(e, sk);
	fill_sock(e, sk);
	e->state = oldstate;
	e->old_state = oldstate;
	e->prev_state = oldstate;
	e->flags |= RST_F_PREV_STATE;
	submit(e);
	return 0;
}

/* Remember owners of accepted sockets, which no state change reveals: the
 * first send or receive in process context names them. Every send and receive
 * of the host passes here, so the common case (the socket's stored owner is
 * the thread acting now) is one storage look-up and one compare; storage is
 * created only on a socket's first I/O, and the owner rewritten only when
 * another thread acts. */
static __always_inline void owner_from_io(struct sock *sk)
{
	struct owner *o;
	__u64 id;

	if (!sk || !is_tcp_inet(sk))
		return;
	id = bpf_get_current_pid_tgid();
	o = bpf_sk_storage_get(&owner_by_sock, sk, 0, 0);
	if (o && o->tid == (__u32)id)
		return;
	if (!o)
		o = bpf_sk_storage_get(&owner_by_sock, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (o)
		current_owner(o);
}

SEC("tp_btf/sock_send_length")
int handle_send_length(__u64 *ctx)
{
	owner_from_io((struct sock *)ctx[0]);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int handle_recv_length(__u64 *ctx)
{
	owner_from_io((struct sock *)ctx[0]);
	return 0;
}
