/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcp_send_reset hits per network namespace, for the completeness check
 * (src/completeness/): user space compares them with the kernel's own
 * TcpOutRsts of that namespace. They are counted first thing in the hook,
 * before any filter or ring reserve, so that a filtered or lost record is
 * still in the count and shows up as "not delivered", never as missing.
 *
 * The namespace is the one the kernel charges the RST to: the socket's, or
 * for a socket-less reset the receiving device's (tcp_v4_send_reset uses
 * sock_net(sk) or the route's device, which is in the same namespace).
 */
#ifndef RSTRACE_NETNS_COUNT_BPF_H
#define RSTRACE_NETNS_COUNT_BPF_H

/* Namespaces counted one by one; a host with more counts the rest together. */
enum { RST_NETNS_MAX = 4096 };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, RST_NETNS_MAX);
	__type(key, __u32);   /* netns inode; 0 when the hook saw no namespace */
	__type(value, __u64); /* hits, per CPU: no shared cache line in a storm */
} send_resets_by_netns SEC(".maps");

/* Hits whose namespace found no room in the map: a drop is never silent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} send_resets_netns_overflow SEC(".maps");

static __always_inline void count_send_reset_netns(const struct sock *sk, const struct sk_buff *skb)
{
	__u32 netns = 0, zero_key = 0;
	__u64 zero = 0, *n;

	if (sk)
		netns = sk->__sk_common.skc_net.net->ns.inum;
	else if (skb && skb->dev)
		netns = skb->dev->nd_net.net->ns.inum;
	n = bpf_map_lookup_elem(&send_resets_by_netns, &netns);
	if (!n) {
		/* first hit in this namespace: BPF_NOEXIST, another CPU may race us */
		bpf_map_update_elem(&send_resets_by_netns, &netns, &zero, BPF_NOEXIST);
		n = bpf_map_lookup_elem(&send_resets_by_netns, &netns);
	}
	if (!n)
		n = bpf_map_lookup_elem(&send_resets_netns_overflow, &zero_key);
	if (n)
		*n += 1;
}

#endif /* RSTRACE_NETNS_COUNT_BPF_H */
