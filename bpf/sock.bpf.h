/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Predicates on a socket, read with plain loads from tp_btf's typed pointers. */
#ifndef RSTRACE_SOCK_BPF_H
#define RSTRACE_SOCK_BPF_H

/* Macros in the kernel, so not in vmlinux.h (TCP states and IPPROTO_TCP are enums there). */
#define AF_INET 2
#define AF_INET6 10
#define RCV_SHUTDOWN 1
#define PF_KTHREAD 0x00200000

static __always_inline bool is_fullsock(__u8 state)
{
	return state != TCP_TIME_WAIT && state != TCP_NEW_SYN_RECV;
}

/* True when the task running the hook holds the socket lock: it is inside a
 * syscall on this very socket (close, connect, shutdown, setsockopt, the
 * backlog run by release_sock), not in softirq or a timer, where `current` is
 * whoever happened to be interrupted. Softirq never runs TCP on a socket a
 * task owns: it queues to the backlog instead. */
static __always_inline bool in_task(const struct sock *sk)
{
	if (!sk)
		return false;
	/* request and TIME_WAIT sockets are smaller than struct sock: no lock to read */
	if (!is_fullsock(sk->__sk_common.skc_state))
		return false;
	return sk->sk_lock.owned;
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

#endif /* RSTRACE_SOCK_BPF_H */
