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

#endif /* RSTRACE_HANDOFF_BPF_H */
