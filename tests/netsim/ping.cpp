// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Network::ping: ICMP echo from a raw socket made inside a host's namespace.
// The other host's kernel answers, so nothing needs to run there. A reply's
// time is the kernel's receive timestamp (SO_TIMESTAMPNS), so that a test
// thread waiting for the CPU on a busy machine does not add to the round
// trip; a request's is taken just before sendto().
#include "netsim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <random>

namespace netsim {

namespace {

using Clock = std::chrono::steady_clock;

// CLOCK_REALTIME, the clock of SO_TIMESTAMPNS, in ns.
int64_t
realtime_ns ()
{
  timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint16_t
checksum (const uint8_t *data, size_t len)
{
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2)
    sum += (uint32_t) (data[i] << 8 | data[i + 1]);
  if (len & 1)
    sum += (uint32_t) (data[len - 1] << 8);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return htons ((uint16_t) ~sum);
}

// Reads the echo replies waiting on fd that carry our id.
void
collect (int fd, uint16_t id, const std::map<uint16_t, int64_t> &sent,
    std::map<uint16_t, double> &rtt)
{
  uint8_t buf[1500];
  char control[256];
  while (true) {
    iovec iov = {buf, sizeof buf};
    msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg (fd, &msg, MSG_DONTWAIT);
    if (n <= 0)
      return;
    int64_t received = realtime_ns ();
    for (cmsghdr *c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts;
        memcpy (&ts, CMSG_DATA (c), sizeof ts);
        received = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
      }
    size_t ihl = (size_t) (buf[0] & 0x0f) * 4;
    if ((size_t) n < ihl + sizeof (icmphdr))
      continue;
    icmphdr h;
    memcpy (&h, buf + ihl, sizeof h);
    if (h.type != ICMP_ECHOREPLY || ntohs (h.un.echo.id) != id)
      continue;
    uint16_t seq = ntohs (h.un.echo.sequence);
    auto it = sent.find (seq);
    if (it != sent.end () && !rtt.count (seq))
      rtt[seq] = (received - it->second) / 1e6;
  }
}

}  // namespace

std::vector<double>
Network::ping (const Host &from, const std::string &to, int count, int interval_ms)
{
  sockaddr_in dst {};
  dst.sin_family = AF_INET;
  if (inet_pton (AF_INET, to.c_str (), &dst.sin_addr) != 1)
    throw Error ("netsim: ping: not an IPv4 address: " + to);
  int fd = socket (from, AF_INET, SOCK_RAW, IPPROTO_ICMP);
  int one = 1;
  setsockopt (fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  uint16_t id = (uint16_t) std::random_device {} ();
  std::map<uint16_t, int64_t> sent;
  std::map<uint16_t, double> rtt;
  Clock::time_point next = Clock::now ();
  for (int i = 0; i < count; i++) {
    // Wait for replies until the next request is due.
    while (true) {
      int wait = (int) std::chrono::duration_cast<std::chrono::milliseconds> (
          next - Clock::now ()).count ();
      if (wait <= 0)
        break;
      pollfd p = {fd, POLLIN, 0};
      if (poll (&p, 1, wait) > 0)
        collect (fd, id, sent, rtt);
    }
    uint8_t pkt[64] = {};  // icmphdr and 56 bytes of payload, as ping sends
    icmphdr h {};
    h.type = ICMP_ECHO;
    h.un.echo.id = htons (id);
    h.un.echo.sequence = htons ((uint16_t) i);
    memcpy (pkt, &h, sizeof h);
    h.checksum = checksum (pkt, sizeof pkt);
    memcpy (pkt, &h, sizeof h);
    sent[(uint16_t) i] = realtime_ns ();
    sendto (fd, pkt, sizeof pkt, 0, (sockaddr *) &dst, sizeof dst);
    next += std::chrono::milliseconds (interval_ms);
  }
  // The last replies: up to 2 s.
  Clock::time_point end = Clock::now () + std::chrono::seconds (2);
  while (rtt.size () < sent.size () && Clock::now () < end) {
    pollfd p = {fd, POLLIN, 0};
    if (poll (&p, 1, 50) > 0)
      collect (fd, id, sent, rtt);
  }
  close (fd);
  std::vector<double> out;
  for (auto &[seq, ms] : rtt)
    out.push_back (ms);
  return out;
}

}  // namespace netsim
