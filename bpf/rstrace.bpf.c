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
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "rstrace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* TCP states, as in include/net/tcp_states.h. */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_FIN_WAIT1 4
#define TCP_FIN_WAIT2 5
#define TCP_TIME_WAIT 6
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LAST_ACK 9
#define TCP_LISTEN 10
#define TCP_CLOSING 11
#define TCP_NEW_SYN_RECV 12

#define RCV_SHUTDOWN 1
#define PF_KTHREAD 0x00200000


/* Configuration, set by user space before load. Zero means "off"; the
 * verifier prunes disabled filters, so an unused filter costs nothing. */
const volatile __u32 filter_tgid = 0;
const volatile __u16 filter_port = 0;
const volatile __u32 filter_netns = 0;
const volatile __u64 filter_cgroup = 0;
/* Pretend the kernel has no sk_rst_reason (tests the pre-6.10 path). */
const volatile bool assume_no_reason = false;
/* Wake user space only once this many bytes wait; its poll timeout is the floor. */
const volatile __u64 wakeup_bytes = 1 << 20;

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

/* Who owns a socket, remembered in process context. Live sockets keep it in
 * socket-local storage, freed with the socket, so that no amount of
 * connection churn elsewhere on the host evicts it. */
struct owner {
	__u32 pid;
	__u32 tid;
	__u64 cgroup_id;
	char comm[RST_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct owner);
} owner_by_sock SEC(".maps");

/* The owner of a closed connection, for its TIME_WAIT stand-in (no storage of
 * its own): keyed by cookie, which the stand-in inherits. Written only when
 * an application closes a connection, bounded by LRU. */
#define OWNER_MAP_ENTRIES 65536

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, OWNER_MAP_ENTRIES);
	__type(key, __u64);
	__type(value, struct owner);
} owner_by_cookie SEC(".maps");

/* Who listens on a port, for the connections it accepts: accept() changes no
 * TCP state, and a server may reset a connection it never read from. */
struct listener_key {
	__u32 netns;
	__u16 port;
	__u16 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct listener_key);
	__type(value, struct owner);
} owner_by_listener SEC(".maps");

/* The state a socket left on its last move to CLOSE, and the sockets a reset
 * was just reported for. Both hand-offs happen synchronously on one CPU
 * (tcp_set_state then tcp_send_active_reset; tcp_reset then tcp_done), but
 * other sockets' events can nest in between: on loopback the RST is
 * delivered, and the peer closed, inside tcp_send_active_reset(). A few
 * recent entries per CPU cover that nesting without any map churn. */
#define SCRATCH_SLOTS 8

struct cpu_scratch {
	__u64 closed_cookie[SCRATCH_SLOTS];
	__u64 reset_cookie[SCRATCH_SLOTS];
	__u8 closed_from[SCRATCH_SLOTS];
	__u32 closed_next;
	__u32 reset_next;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_scratch);
} scratch SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		*c += 1;
}

static __always_inline struct cpu_scratch *get_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/* True when the task running the hook holds the socket lock: it is inside a
 * syscall on this very socket (close, connect, shutdown, setsockopt, the
 * backlog run by release_sock), not in softirq or a timer, where `current` is
 * whoever happened to be interrupted. Softirq never runs TCP on a socket a
 * task owns: it queues to the backlog instead. */
static __always_inline bool in_task(const struct sock *sk)
{
	__u8 state;

	if (!sk)
		return false;
	/* request and TIME_WAIT sockets are smaller than struct sock: no lock to read */
	state = sk->__sk_common.skc_state;
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
		return false;
	return sk->sk_lock.owned;
}

static __always_inline bool is_fullsock(__u8 state)
{
	return state != TCP_TIME_WAIT && state != TCP_NEW_SYN_RECV;
}

static __always_inline bool sk_flag(const struct sock *sk, int bit)
{
	unsigned long flags = sk->__sk_common.skc_flags;

	return flags & (1UL << bit);
}

static __always_inline bool is_tcp_inet(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;

	if (family != AF_INET && family != AF_INET6)
		return false;
	return sk->sk_protocol == IPPROTO_TCP;
}

static __always_inline void fill_context(struct rst_event *e, bool task)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *t;

	e->ctx_pid = id >> 32;
	e->ctx_tid = (__u32)id;
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

/*
 * The tp_btf arguments are typed kernel pointers: fields are read with plain
 * loads (the verifier turns them into fault-safe loads), which costs a
 * fraction of a bpf_probe_read_kernel() call per field on a path that runs
 * hundreds of thousands of times a second in a reset storm.
 */

/* Addresses and ports from a socket (full, request or TIME_WAIT: all start
 * with sock_common). */
static __always_inline void fill_addrs_sk(struct rst_event *e, const struct sock *sk)
{
	__u8 state = sk->__sk_common.skc_state;

	e->family = sk->__sk_common.skc_family;
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
		*(__u32 *)e->laddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)e->raddr = sk->__sk_common.skc_daddr;
	} else {
		for (int i = 0; i < 4; i++) {
			((__u32 *)e->laddr)[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			((__u32 *)e->raddr)[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
		}
	}
}

/* Addresses, ports and flags from the segment that provoked a reset: this
 * host is its destination. Packet bytes are raw memory: two reads in all. */
static __always_inline void fill_addrs_skb(struct rst_event *e, const struct sk_buff *skb)
{
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header;
	__u16 th = skb->transport_header;
	__u8 ip[40];
	__u8 tcp[14];

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
	/* a socket-less reset still happened in some namespace: the device's */
	if (!e->netns && skb->dev)
		e->netns = skb->dev->nd_net.net->ns.inum;
	if (bpf_probe_read_kernel(tcp, sizeof(tcp), head + th) == 0) {
		e->rport = ((__u16)tcp[0] << 8) | tcp[1];
		e->lport = ((__u16)tcp[2] << 8) | tcp[3];
		e->tcp_flags = tcp[13];
	}
}

/* Socket facts: cookie, netns, owner, queues, flags. */
static __always_inline void fill_sock(struct rst_event *e, struct sock *sk)
{
	struct owner *o;
	__u8 state = sk->__sk_common.skc_state;

	e->flags |= RST_F_HAS_SK;
	e->state = state;
	e->cookie = bpf_get_socket_cookie(sk);
	e->netns = sk->__sk_common.skc_net.net->ns.inum;

	if (is_fullsock(state))
		o = bpf_sk_storage_get(&owner_by_sock, sk, 0, 0);
	else
		o = bpf_map_lookup_elem(&owner_by_cookie, &e->cookie);
	if (!o && e->lport && state != TCP_LISTEN) {
		/* a passive connection nobody acted on yet belongs to its listener's process */
		struct listener_key lk = { .netns = e->netns, .port = e->lport };

		o = bpf_map_lookup_elem(&owner_by_listener, &lk);
		if (o)
			e->flags |= RST_F_OWNER_LISTENER;
	}
	if (o) {
		e->flags |= RST_F_OWNER_KNOWN;
		e->owner_pid = o->pid;
		e->owner_tid = o->tid;
		e->cgroup_id = o->cgroup_id;
		__builtin_memcpy(e->owner_comm, o->comm, sizeof(e->owner_comm));
	} else if (e->flags & RST_F_IN_TASK) {
		e->cgroup_id = bpf_get_current_cgroup_id(); /* the actor owns it */
	}

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
static __always_inline bool filtered_out(const struct rst_event *e)
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
	return false;
}

static __always_inline void submit(struct rst_event *e)
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

static __always_inline struct rst_event *reserve(__u8 kind, __u8 hook)
{
	struct rst_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(RST_CNT_LOST);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->kind = kind;
	e->hook = hook;
	e->reason = RST_REASON_NONE;
	return e;
}

static __always_inline void remember_reset(__u64 cookie)
{
	struct cpu_scratch *s = get_scratch();

	if (s)
		s->reset_cookie[s->reset_next++ % SCRATCH_SLOTS] = cookie;
}

static __always_inline bool reset_reported(struct cpu_scratch *s, __u64 cookie)
{
	for (int i = 0; i < SCRATCH_SLOTS; i++)
		if (s->reset_cookie[i] == cookie)
			return true;
	return false;
}

static __always_inline void remember_closed(struct cpu_scratch *s, __u64 cookie, __u8 from)
{
	__u32 slot = s->closed_next++ % SCRATCH_SLOTS;

	s->closed_cookie[slot] = cookie;
	s->closed_from[slot] = from;
}

/* The state the socket left on its way to CLOSE, or 0 if not seen. */
static __always_inline __u8 closed_from(struct cpu_scratch *s, __u64 cookie)
{
	for (int i = 0; i < SCRATCH_SLOTS; i++)
		if (s->closed_cookie[i] == cookie)
			return s->closed_from[i];
	return 0;
}

static __always_inline void current_owner(struct owner *o)
{
	__u64 id = bpf_get_current_pid_tgid();

	o->pid = id >> 32;
	o->tid = (__u32)id;
	o->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

/* The socket's owner is now the current task; returns the stored owner (NULL
 * only if the storage could not be allocated). */
static __always_inline struct owner *remember_owner(struct sock *sk)
{
	struct owner *o = bpf_sk_storage_get(&owner_by_sock, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (o && o->tid != (__u32)bpf_get_current_pid_tgid())
		current_owner(o);
	return o;
}

/* An application closes: keep its owner for the TIME_WAIT stand-in. */
static __always_inline void remember_closer(struct sock *sk, const struct owner *owner)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	struct owner o = {};

	if (owner)
		o = *owner;
	else
		current_owner(&o);
	bpf_map_update_elem(&owner_by_cookie, &cookie, &o, BPF_ANY);
}

static __always_inline void remember_listener(struct sock *sk, const struct owner *owner)
{
	struct listener_key lk = {
		.netns = sk->__sk_common.skc_net.net->ns.inum,
		.port = sk->__sk_common.skc_num,
	};
	struct owner o = {};

	if (owner)
		o = *owner;
	else
		current_owner(&o);
	bpf_map_update_elem(&owner_by_listener, &lk, &o, BPF_ANY);
}

SEC("tp_btf/tcp_send_reset")
int handle_send_reset(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	struct sk_buff *skb = (struct sk_buff *)ctx[1];
	bool task = in_task(sk);
	struct rst_event *e;

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
	if (sk) {
		fill_sock(e, sk);
		if (e->state == TCP_CLOSE) {
			struct cpu_scratch *s = get_scratch();

			if (s && (e->prev_state = closed_from(s, e->cookie)))
				e->flags |= RST_F_PREV_STATE;
		}
		remember_reset(e->cookie);
	}
	submit(e);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int handle_receive_reset(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	struct rst_event *e;

	if (!sk)
		return 0;
	e = reserve(RST_KIND_RECEIVED, RST_HOOK_RECEIVE_RESET);
	if (!e)
		return 0;
	fill_context(e, in_task(sk));
	fill_addrs_sk(e, sk);
	fill_sock(e, sk);
	remember_reset(e->cookie);
	submit(e);
	return 0;
}

/* Owners are recorded on transitions that only a syscall makes (connect,
 * listen, close, shutdown), and the state left on the way to CLOSE is kept
 * for the reset that may follow. A move to CLOSE with a socket error and no
 * reset just reported is a reset-type abort. */
SEC("tp_btf/inet_sock_set_state")
int handle_set_state(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	int oldstate = (int)ctx[1];
	int newstate = (int)ctx[2];
	struct cpu_scratch *s;
	struct rst_event *e;
	__u64 cookie;
	int err;

	if (!sk || !is_tcp_inet(sk))
		return 0;

	if (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN || newstate == TCP_FIN_WAIT1 ||
	    newstate == TCP_LAST_ACK) {
		if (in_task(sk)) {
			/* one read of the task's identity serves every map */
			struct owner *o = remember_owner(sk);

			if (newstate == TCP_LISTEN)
				remember_listener(sk, o);
			else if (newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK)
				remember_closer(sk, o);
		}
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;

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
 * first send or receive in process context names them. */
static __always_inline void owner_from_io(struct sock *sk)
{
	if (!sk || !is_tcp_inet(sk))
		return;
	remember_owner(sk);
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
