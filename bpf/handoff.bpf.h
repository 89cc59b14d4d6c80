/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-CPU hand-off between hooks that fire one after the other for the same
 * socket: the state a socket left on its last move to CLOSE, and the sockets
 * a reset was just reported for. Both hand-offs happen synchronously on one
 * CPU (tcp_set_state then tcp_send_active_reset; tcp_reset then tcp_done), but
 * other sockets' events can nest in between: on loopback the RST is
 * delivered, and the peer closed, inside tcp_send_active_reset(). A few
 * recent entries per CPU cover that nesting without any map churn.
 */
#ifndef RSTRACE_HANDOFF_BPF_H
#define RSTRACE_HANDOFF_BPF_H

#define SCRATCH_SLOTS 8
/* A stack RST passes net_dev_queue within microseconds of its tcp_send_reset. */
#define STACK_RST_SLOTS 4
#define STACK_RST_WINDOW_NS 1000000

struct cpu_scratch {
	__u64 closed_cookie[SCRATCH_SLOTS];
	__u64 reset_cookie[SCRATCH_SLOTS];
	__u8 closed_from[SCRATCH_SLOTS];
	__u32 closed_next;
	__u32 reset_next;
	/* RSTs the TCP stack just sent in reply to a segment, by tuple, for
	 * net_dev_queue to tell them from a firewall's (firewall.bpf.h) */
	__u64 stack_rst_key[STACK_RST_SLOTS];
	__u64 stack_rst_ts[STACK_RST_SLOTS];
	__u32 stack_rst_next;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_scratch);
} scratch SEC(".maps");

static __always_inline struct cpu_scratch *get_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
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

/* One RST's tuple as seen from its sender (l = source), as a number: the
 * same from the record tcp_send_reset fills and from the RST's own headers. */
static __always_inline __u64 rst_tuple_key(const __u32 *laddr, const __u32 *raddr, __u16 lport, __u16 rport)
{
	__u64 l = laddr[0] ^ laddr[1] ^ laddr[2] ^ laddr[3];
	__u64 r = raddr[0] ^ raddr[1] ^ raddr[2] ^ raddr[3];

	return (l * 0x9E3779B97F4A7C15ull) ^ (r << 32 | r) ^ ((__u64)lport << 16 | rport);
}

/* tcp_send_reset with a segment to answer: the RST it builds follows on this CPU. */
static __always_inline void remember_stack_rst(__u64 key)
{
	struct cpu_scratch *s = get_scratch();
	__u32 slot;

	if (!s)
		return;
	slot = s->stack_rst_next++ % STACK_RST_SLOTS;
	s->stack_rst_key[slot] = key;
	s->stack_rst_ts[slot] = bpf_ktime_get_ns();
}

/* Whether the RST with this tuple is one the stack announced just now; consumes it. */
static __always_inline bool take_stack_rst(__u64 key)
{
	struct cpu_scratch *s = get_scratch();
	__u64 now;

	if (!s)
		return false;
	now = bpf_ktime_get_ns();
	for (int i = 0; i < STACK_RST_SLOTS; i++) {
		if (s->stack_rst_key[i] == key && now - s->stack_rst_ts[i] < STACK_RST_WINDOW_NS) {
			s->stack_rst_key[i] = 0;
			return true;
		}
	}
	return false;
}

#endif /* RSTRACE_HANDOFF_BPF_H */
