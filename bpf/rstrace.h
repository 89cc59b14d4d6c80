/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one definition of rstrace's kernel record, shared by rstrace.bpf.c and
 * the addon (native/). The TypeScript layout (src/kernel/layout.generated.ts)
 * is generated from the BPF object's BTF, that is from this file as the BPF
 * compiler saw it, by scripts/build-bpf.ts: nothing here is copied by hand.
 *
 * Every constant is an enum so that it reaches BTF (a #define does not); the
 * BPF object anchors each of these types in BTF (record.bpf.h).
 */
#ifndef RSTRACE_H
#define RSTRACE_H

enum rst_const {
	RST_COMM_LEN = 16,              /* TASK_COMM_LEN */
	RST_REASON_NONE = 0xffffffffu,  /* a reason value the kernel never uses: "it gave none" */
	/* records per batch handed to JavaScript: small batches keep the buffers
	 * in flight (addon pool, JS copies) a few MB in all during a storm */
	RST_BATCH_RECORDS = 2048,
};

/* What happened on the wire. */
enum rst_kind {
	RST_KIND_SENT = 1,     /* this host put a RST on the wire */
	RST_KIND_RECEIVED = 2, /* this host received a RST */
	RST_KIND_ABORT = 3,    /* connection aborted with no RST (timeout, ICMP, destroy) */
	RST_KIND_IGNORED = 4,  /* a RST arrived and the kernel refused it */
};

/* Which hook produced the record (kept for diagnosis and classification). */
enum rst_hook {
	RST_HOOK_SEND_RESET = 1,
	RST_HOOK_RECEIVE_RESET = 2,
	RST_HOOK_SET_STATE = 3,
	RST_HOOK_NET_DEV_QUEUE = 4, /* a RST no TCP socket sent: a firewall rule's (nf_send_reset) */
	RST_HOOK_KFREE_SKB = 5,     /* a RST segment freed with its socket: refused, or a TIME_WAIT killed */
};

/* Facts the classifier needs that are cheaper to test in the kernel. */
enum rst_flag {
	RST_F_HAS_SK = 1 << 0,        /* a socket (full, request or TIME_WAIT) was involved */
	RST_F_HAS_REASON = 1 << 1,    /* `reason` is the kernel's sk_rst_reason */
	RST_F_OWNER_KNOWN = 1 << 2,   /* owner_* came from the owner map */
	RST_F_IN_TASK = 1 << 3,       /* the context task holds the socket lock: it is the actor */
	RST_F_LINGER0 = 1 << 4,       /* SO_LINGER on with a zero linger time */
	RST_F_DEAD = 1 << 5,          /* socket already orphaned by close() */
	RST_F_ACCEPTQ_FULL = 1 << 6,  /* listener's accept queue was full */
	RST_F_FULLSOCK = 1 << 7,      /* unread/unsent/probes were read from a tcp_sock */
	RST_F_KEEPALIVE = 1 << 8,     /* SO_KEEPALIVE set */
	RST_F_USER_TIMEOUT = 1 << 9,  /* TCP_USER_TIMEOUT set */
	RST_F_IN_SYSCALL = 1 << 10,   /* `syscall` holds the context task's syscall number */
	RST_F_PREV_STATE = 1 << 11,   /* `prev_state` was remembered from the CLOSE transition */
	RST_F_RCV_SHUTDOWN = 1 << 12, /* receive side shut down (after close() or shutdown()) */
	RST_F_OWNER_LISTENER = 1 << 13, /* owner_* is the process that listens on lport */
	RST_F_SEQ = 1 << 14,          /* seq, ack_seq, rcv_nxt, rcv_wnd are valid */
	RST_F_DROP_REASON = 1 << 15,  /* `reason` is the kernel's skb_drop_reason, not sk_rst_reason */
};

/* One record per event. Fixed size, explicit widths and padding. The trace
 * file stores these 168 bytes as they are: a change here is a format change. */
struct rst_record {
	__u64 ts_ns;                  /*   0: bpf_ktime_get_boot_ns() */
	__u64 cookie;                 /*   8: socket cookie, 0 if no socket */
	__u64 cgroup_id;              /*  16: owner's cgroup v2 id (context's when no owner) */
	__u64 ino;                    /*  24: socket inode, for /proc attribution */
	__u8 laddr[16];               /*  32: this host's address (IPv4 in the first 4 bytes) */
	__u8 raddr[16];               /*  48: the peer's address */
	__u32 netns;                  /*  64: network namespace inode */
	__u32 reason;                 /*  68: enum sk_rst_reason, or RST_REASON_NONE */
	__u32 owner_pid;              /*  72: owner's tgid from the owner map, 0 if unknown */
	__u32 owner_tid;              /*  76: owner's thread that last acted */
	__u32 ctx_pid;                /*  80: tgid of the task the hook ran in */
	__u32 ctx_tid;                /*  84 */
	__u32 unread;                 /*  88: rcv_nxt - copied_seq */
	__u32 unsent;                 /*  92: write_seq - snd_una */
	__u16 lport;                  /*  96: host byte order */
	__u16 rport;                  /*  98 */
	__u16 family;                 /* 100: AF_INET or AF_INET6 */
	__u8 kind;                    /* 102: enum rst_kind */
	__u8 state;                   /* 103: TCP state seen by the hook (0 = no socket) */
	__u8 prev_state;              /* 104: state before the reset was decided */
	__u8 tcp_flags;               /* 105: flags of the segment that caused a socket-less reset */
	__u8 sk_err;                  /* 106: socket error at the time */
	__u8 probes;                  /* 107: keepalive probes sent (icsk_probes_out) */
	__u16 flags;                  /* 108: enum rst_flag */
	__u8 hook;                    /* 110: enum rst_hook */
	__u8 old_state;               /* 111: for set_state records: the state left */
	__u32 syscall;                /* 112: context task's syscall nr (valid with RST_F_IN_SYSCALL) */
	__u32 _pad;                   /* 116: always 0 */
	char owner_comm[RST_COMM_LEN]; /* 120 */
	char ctx_comm[RST_COMM_LEN];  /* 136 */
	/* Sequence space, with RST_F_SEQ: a received RST's own seq and ack_seq
	 * (kfree_skb), or for an accepted one (tcp_receive_reset, which has no
	 * segment) rcv_nxt as its seq; the socket's receive window beside it. */
	__u32 seq;                    /* 152 */
	__u32 ack_seq;                /* 156 */
	__u32 rcv_nxt;                /* 160 */
	__u32 rcv_wnd;                /* 164 */
};                                    /* 168 */

/* Per-CPU counters: every reason a record may not reach user space. */
enum rst_counter {
	RST_CNT_EMITTED = 0,  /* records committed to the ring buffer */
	RST_CNT_LOST = 1,     /* ring buffer full: record dropped */
	RST_CNT_FILTERED = 2, /* dropped by an in-kernel filter */
	RST_CNT_MAX = 3,
};

/* The offsets in the comments above are the contract with the trace file and
 * the decoder: the compilers (clang for BPF, g++ for the addon) check them. */
#ifdef __cplusplus
#define RST_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define RST_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
#define RST_AT(field, off) \
	RST_STATIC_ASSERT(__builtin_offsetof(struct rst_record, field) == (off), "rst_record." #field " moved")
RST_AT(ts_ns, 0);
RST_AT(cookie, 8);
RST_AT(cgroup_id, 16);
RST_AT(ino, 24);
RST_AT(laddr, 32);
RST_AT(raddr, 48);
RST_AT(netns, 64);
RST_AT(reason, 68);
RST_AT(owner_pid, 72);
RST_AT(owner_tid, 76);
RST_AT(ctx_pid, 80);
RST_AT(ctx_tid, 84);
RST_AT(unread, 88);
RST_AT(unsent, 92);
RST_AT(lport, 96);
RST_AT(rport, 98);
RST_AT(family, 100);
RST_AT(kind, 102);
RST_AT(state, 103);
RST_AT(prev_state, 104);
RST_AT(tcp_flags, 105);
RST_AT(sk_err, 106);
RST_AT(probes, 107);
RST_AT(flags, 108);
RST_AT(hook, 110);
RST_AT(old_state, 111);
RST_AT(syscall, 112);
RST_AT(_pad, 116);
RST_AT(owner_comm, 120);
RST_AT(ctx_comm, 136);
RST_AT(seq, 152);
RST_AT(ack_seq, 156);
RST_AT(rcv_nxt, 160);
RST_AT(rcv_wnd, 164);
RST_STATIC_ASSERT(sizeof(struct rst_record) == 168, "rst_record is 168 bytes");
#undef RST_AT

#endif /* RSTRACE_H */
