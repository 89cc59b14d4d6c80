/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Filling and delivering one struct rst_record: reserve in the ring buffer,
 * fill, filter, submit with batched wake-ups, count every record that does
 * not reach user space.
 *
 * Nothing is memset: ring buffer memory is reused, so every byte of a record
 * is written on every path. reserve() writes the header, fill_context() the
 * task part, one fill_addrs_*() the address part and one fill_sock*() the
 * socket part; each writes each of its fields on all of its branches.
 */
#ifndef RSTRACE_RECORD_BPF_H
#define RSTRACE_RECORD_BPF_H

#include "rstrace.h"
#include "sock.bpf.h"
#include "owner.bpf.h"

/* Configuration, set by user space before load. Zero means "off"; the
 * verifier prunes disabled filters, so an unused filter costs nothing. */
const volatile __u32 filter_tgid = 0;
const volatile __u16 filter_port = 0;
const volatile __u32 filter_netns = 0;
const volatile __u64 filter_cgroup = 0;
/* Wake user space only once this many bytes wait; its poll timeout is the floor. */
const volatile __u64 wakeup_bytes = 1 << 20;
/* --cgroup PATH, --container, --unit: user space judges every cgroup that
 * exists at the start by name and stores 1 (matches) or 0 (does not) by id;
 * an id not in the map (a cgroup made later) passes, for user space to judge. */
const volatile bool filter_cgroup_names = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_verdict SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RST_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/*
 * Puts the record and every constant of rstrace.h into the object's BTF, from
 * which scripts/build-bpf.ts generates the TypeScript layout. Types reach BTF
 * only when something uses them: this struct does, through the parameter of a
 * function that is never called (so libbpf never loads it).
 */
struct rst_btf_types {
	struct rst_record record;
	enum rst_const constants;
	enum rst_kind kind;
	enum rst_hook hook;
	enum rst_flag flag;
	enum rst_counter counter;
};

__attribute__((used)) __noinline int rst_btf_anchor(struct rst_btf_types *types)
{
	return types != 0;
}

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		*c += 1;
}

/* The header. `flags` starts at 0 and the fill functions add to it. */
static __always_inline struct rst_record *reserve(__u8 kind, __u8 hook)
{
	struct rst_record *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(RST_CNT_LOST);
		return NULL;
	}
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->kind = kind;
	e->hook = hook;
	e->reason = RST_REASON_NONE;
	e->flags = 0;
	e->_pad = 0;
	e->seq = 0;
	e->ack_seq = 0;
	e->rcv_nxt = 0;
	e->rcv_wnd = 0;
	return e;
}

/* The task part: ctx_pid, ctx_tid, ctx_comm, syscall. */
static __always_inline void fill_context(struct rst_record *e, bool task)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *t;

	e->ctx_pid = id >> 32;
	e->ctx_tid = (__u32)id;
	e->syscall = 0;
	/* zero-pads to the end of the buffer */
	bpf_get_current_comm(e->ctx_comm, sizeof(e->ctx_comm));
	if (!task || e->ctx_pid == 0)
		return;
	e->flags |= RST_F_IN_TASK;
#if defined(__TARGET_ARCH_x86)
	t = bpf_get_current_task_btf();
	if (!(t->flags & PF_KTHREAD)) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
		long nr = regs->orig_ax;

		if (nr >= 0 && nr < 4096) {
			e->syscall = nr;
			e->flags |= RST_F_IN_SYSCALL;
		}
	}
#endif
}

static __always_inline void zero16(__u8 *p)
{
	((__u64 *)p)[0] = 0;
	((__u64 *)p)[1] = 0;
}

/*
 * The tp_btf arguments are typed kernel pointers: fields are read with plain
 * loads (the verifier turns them into fault-safe loads), which costs a
 * fraction of a bpf_probe_read_kernel() call per field on a path that runs
 * hundreds of thousands of times a second in a reset storm.
 */

/* The address part (family, laddr, raddr, lport, rport, tcp_flags) from a
 * socket: full, request or TIME_WAIT, all start with sock_common. */
static __always_inline void fill_addrs_sk(struct rst_record *e, const struct sock *sk)
{
	__u8 state = sk->__sk_common.skc_state;

	e->family = sk->__sk_common.skc_family;
	e->tcp_flags = 0;
	e->lport = 0;
	/* skc_num is zeroed when a closing socket gives its port back, before
	 * the CLOSE tracepoints fire; the socket's own source port is kept. */
	if (state == TCP_TIME_WAIT) {
		struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock((void *)sk);

		if (tw)
			e->lport = bpf_ntohs(tw->tw_sk.tw_sport);
	} else if (state == TCP_NEW_SYN_RECV) {
		e->lport = sk->__sk_common.skc_num;
	} else {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

		if (tp)
			e->lport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	}
	e->rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (e->family == AF_INET) {
		zero16(e->laddr);
		zero16(e->raddr);
		*(__u32 *)e->laddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)e->raddr = sk->__sk_common.skc_daddr;
	} else {
		for (int i = 0; i < 4; i++) {
			((__u32 *)e->laddr)[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			((__u32 *)e->raddr)[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
		}
	}
}

/* No address at all (a reset with neither socket nor segment). */
static __always_inline void fill_addrs_none(struct rst_record *e)
{
	e->family = 0;
	zero16(e->laddr);
	zero16(e->raddr);
	e->lport = 0;
	e->rport = 0;
	e->tcp_flags = 0;
	e->netns = 0;
}

/* The address part from the segment that provoked a reset (this host is its
 * destination), and the device's namespace as a first `netns`: a socket-less
 * reset still happened in some namespace. Packet bytes are raw memory: two
 * reads in all. */
static __always_inline void fill_addrs_skb(struct rst_record *e, const struct sk_buff *skb)
{
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header;
	__u16 th = skb->transport_header;
	__u8 ip[40];
	__u8 tcp[14];

	fill_addrs_none(e);
	if (skb->dev)
		e->netns = skb->dev->nd_net.net->ns.inum;
	if (bpf_probe_read_kernel(ip, sizeof(ip), head + nh) == 0) {
		if ((ip[0] >> 4) == 4) {
			e->family = AF_INET;
			__builtin_memcpy(e->raddr, ip + 12, 4);
			__builtin_memcpy(e->laddr, ip + 16, 4);
		} else if ((ip[0] >> 4) == 6) {
			e->family = AF_INET6;
			__builtin_memcpy(e->raddr, ip + 8, 16);
			__builtin_memcpy(e->laddr, ip + 24, 16);
		}
	}
	if (bpf_probe_read_kernel(tcp, sizeof(tcp), head + th) == 0) {
		e->rport = ((__u16)tcp[0] << 8) | tcp[1];
		e->lport = ((__u16)tcp[2] << 8) | tcp[3];
		e->tcp_flags = tcp[13];
	}
}

/* The socket part when there is no socket: netns stays as fill_addrs_*() left it. */
static __always_inline void fill_sock_none(struct rst_record *e)
{
	e->cookie = 0;
	e->ino = 0;
	e->state = 0;
	e->prev_state = 0;
	e->old_state = 0;
	e->owner_pid = 0;
	e->owner_tid = 0;
	zero16((__u8 *)e->owner_comm);
	e->cgroup_id = 0;
	e->unread = 0;
	e->unsent = 0;
	e->probes = 0;
	e->sk_err = 0;
}

/* The socket part: cookie, netns, state, owner, queues, flags; prev_state and
 * old_state start at 0 for the caller to set. Needs the address part (lport). */
static __always_inline void fill_sock(struct rst_record *e, struct sock *sk)
{
	__u8 state = sk->__sk_common.skc_state;
	bool from_listener;
	struct owner *o;

	e->flags |= RST_F_HAS_SK;
	e->state = state;
	e->prev_state = 0;
	e->old_state = 0;
	e->cookie = bpf_get_socket_cookie(sk);
	e->netns = sk->__sk_common.skc_net.net->ns.inum;

	o = owner_of(sk, state, e->cookie, e->netns, e->lport, &from_listener);
	if (o) {
		e->flags |= RST_F_OWNER_KNOWN;
		if (from_listener)
			e->flags |= RST_F_OWNER_LISTENER;
		e->owner_pid = o->pid;
		e->owner_tid = o->tid;
		e->cgroup_id = o->cgroup_id;
		__builtin_memcpy(e->owner_comm, o->comm, sizeof(e->owner_comm));
	} else {
		e->owner_pid = 0;
		e->owner_tid = 0;
		zero16((__u8 *)e->owner_comm);
		/* in task context the actor owns it */
		e->cgroup_id = (e->flags & RST_F_IN_TASK) ? bpf_get_current_cgroup_id() : 0;
	}

	e->unread = 0;
	e->unsent = 0;
	e->probes = 0;
	e->sk_err = 0;
	e->ino = 0;
	if (!is_fullsock(state))
		return;

	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	struct socket *sock = sk->sk_socket;

	if (!tp)
		return;
	e->flags |= RST_F_FULLSOCK;
	e->unread = tp->rcv_nxt - tp->copied_seq;
	e->unsent = tp->write_seq - tp->snd_una;
	e->probes = tp->inet_conn.icsk_probes_out;
	e->sk_err = sk->sk_err;
	if (tp->inet_conn.icsk_user_timeout)
		e->flags |= RST_F_USER_TIMEOUT;
	if (sk_flag(sk, bpf_core_enum_value(enum sock_flags, SOCK_DEAD)))
		e->flags |= RST_F_DEAD;
	if (sk_flag(sk, bpf_core_enum_value(enum sock_flags, SOCK_KEEPOPEN)))
		e->flags |= RST_F_KEEPALIVE;
	if (sk_flag(sk, bpf_core_enum_value(enum sock_flags, SOCK_LINGER)) && sk->sk_lingertime == 0)
		e->flags |= RST_F_LINGER0;
	if (sk->sk_shutdown & RCV_SHUTDOWN)
		e->flags |= RST_F_RCV_SHUTDOWN;
	if (state == TCP_LISTEN && sk->sk_ack_backlog > sk->sk_max_ack_backlog)
		e->flags |= RST_F_ACCEPTQ_FULL;
	/* the socket's inode names it in /proc/PID/fd, for sockets older than the trace */
	if (sock && sock->file)
		e->ino = sock->file->f_inode->i_ino;
}

/* In-kernel filters. A record is dropped only when it certainly does not
 * match: a record whose owner is still unknown reaches user space, which
 * attributes it from /proc and filters again. */
static __always_inline bool filtered_out(const struct rst_record *e)
{
	if (filter_port && e->lport != filter_port && e->rport != filter_port)
		return true;
	if (filter_netns && e->netns != filter_netns)
		return true;
	if (filter_tgid) {
		if (!(e->flags & RST_F_HAS_SK))
			return true;
		if ((e->flags & RST_F_OWNER_KNOWN) && e->owner_pid != filter_tgid)
			return true;
	}
	if (filter_cgroup && (e->flags & RST_F_OWNER_KNOWN) && e->cgroup_id != filter_cgroup)
		return true;
	if (filter_cgroup_names) {
		__u8 *match;

		/* no socket: no cgroup, no name */
		if (!(e->flags & RST_F_HAS_SK))
			return true;
		if (e->flags & RST_F_OWNER_KNOWN) {
			match = bpf_map_lookup_elem(&cgroup_verdict, &e->cgroup_id);
			if (match && !*match)
				return true;
		}
	}
	return false;
}

/*
 * Filtering happens here, after reserve() and the filling, and not before:
 * the filters test what the filling found (ports from the segment or the
 * socket, the netns, the remembered owner), and filling in place in the ring
 * is what keeps the record off the BPF stack (512 bytes, and a 152-byte copy
 * per event). A filtered record costs a reserve and a discard, counted.
 */
static __always_inline void submit(struct rst_record *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (filtered_out(e)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		count(RST_CNT_FILTERED);
		return;
	}
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
	count(RST_CNT_EMITTED);
}

#endif /* RSTRACE_RECORD_BPF_H */
