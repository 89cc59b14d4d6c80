/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who owns a socket, remembered in process context, where the owner is known
 * for sure; a reset often happens in softirq or a timer, where `current` is
 * unrelated (on loopback the receiver's RST runs in the sender's task).
 */
#ifndef RSTRACE_OWNER_BPF_H
#define RSTRACE_OWNER_BPF_H

#include "rstrace.h"

struct owner {
	__u32 pid;
	__u32 tid;
	__u64 cgroup_id;
	char comm[RST_COMM_LEN];
};

/* Live sockets keep their owner in socket-local storage, freed with the
 * socket, so that no amount of connection churn elsewhere evicts it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct owner);
} owner_by_sock SEC(".maps");

/* The owner of a closed connection, for its TIME_WAIT stand-in (no storage of
 * its own): keyed by cookie, which the stand-in inherits. Written only when
 * an application closes a connection actively, bounded by LRU. */
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

/* `owner` as just stored for the socket, or the current task when no storage
 * could be had: the maps below copy it rather than read the task again. */
static __always_inline void owner_or_current(struct owner *o, const struct owner *owner)
{
	if (owner) {
		*o = *owner;
		return;
	}
	__builtin_memset(o, 0, sizeof(*o));
	current_owner(o);
}

/* An application closes actively: keep its owner for the TIME_WAIT stand-in. */
static __always_inline void remember_closer(struct sock *sk, const struct owner *owner)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	struct owner o;

	owner_or_current(&o, owner);
	bpf_map_update_elem(&owner_by_cookie, &cookie, &o, BPF_ANY);
}

static __always_inline void remember_listener(struct sock *sk, const struct owner *owner)
{
	struct listener_key lk = {
		.netns = sk->__sk_common.skc_net.net->ns.inum,
		.port = sk->__sk_common.skc_num,
	};
	struct owner o;

	owner_or_current(&o, owner);
	bpf_map_update_elem(&owner_by_listener, &lk, &o, BPF_ANY);
}

/* The remembered owner of a socket in `state`: its storage (full sockets), the
 * closer (TIME_WAIT and request sockets, by cookie), else, for a passive
 * connection nobody acted on yet, its listener's process. */
static __always_inline struct owner *owner_of(struct sock *sk, __u8 state, __u64 cookie, __u32 netns,
					      __u16 lport, bool *from_listener)
{
	struct owner *o;

	*from_listener = false;
	if (is_fullsock(state))
		o = bpf_sk_storage_get(&owner_by_sock, sk, 0, 0);
	else
		o = bpf_map_lookup_elem(&owner_by_cookie, &cookie);
	if (!o && lport && state != TCP_LISTEN) {
		struct listener_key lk = { .netns = netns, .port = lport };

		o = bpf_map_lookup_elem(&owner_by_listener, &lk);
		*from_listener = o != NULL;
	}
	return o;
}

#endif /* RSTRACE_OWNER_BPF_H */
