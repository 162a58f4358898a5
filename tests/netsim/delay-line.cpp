// SPDX-License-Identifier: LGPL-2.1-or-later
//
// netsim-delay: the delay line of a simulated link. This kernel has no netem,
// so delay, jitter and reordering are done here, in user space.
//
// It runs inside a link's own network namespace, between the two veth ends
// that lead to the two hosts (see docs/testing.md):
//
//   host A [va] <-veth-> [la] link namespace [lb] <-veth-> [vb] host B
//                              netsim-delay la lb
//
// It reads every Ethernet frame arriving on one end with an AF_PACKET socket,
// holds it for delay +- jitter and sends it out of the other end: a two-port
// bridge with a delay line in each direction. ARP crosses it like any frame.
//
// Frames carry a virtio_net_hdr (PACKET_VNET_HDR) both ways, so TCP
// segmentation offload and checksum offload pass through untouched: veth
// hands over 64 KB GSO frames whose checksums are not filled in yet.
//
// Control, one command per line on stdin, each answered by one line:
//   dir DIR DELAY_US JITTER_US REORDER   (DIR 0: la->lb, 1: lb->la)  -> "ok"
//   stats                     -> "stats FWD0 DROP0 FWD1 DROP1"
// End of stdin ends the program. On start it prints "ready".
//
// One thread: ppoll() on both sockets and stdin, woken at the next release
// time. The timer slack is set to 1 us so that wake-ups are precise, and the
// thread asks for SCHED_FIFO (it only wakes for packets and timers) so that
// encoders and decoders busy on every core do not delay it.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Nanos = int64_t;

Nanos
now_ns ()
{
  timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (Nanos) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// At most this many frames wait in one direction; more are dropped (and
// counted), as a router with a full buffer would.
constexpr size_t kMaxQueued = 20000;
// struct virtio_net_hdr, which PACKET_VNET_HDR puts before each frame
// (linux/virtio_net.h cannot be included from C++: it has a member "class").
constexpr size_t kVnetHdrLen = 10;
// A GSO frame from veth is at most 64 KB, plus the vnet header.
constexpr size_t kMaxFrame = 65536 + kVnetHdrLen + 64;

struct Frame {
  Nanos release;
  uint64_t seq;  // arrival order: breaks ties, keeps FIFO at equal times
  std::vector<uint8_t> data;
};

struct Later {
  bool operator() (const Frame &a, const Frame &b) const
  {
    return a.release != b.release ? a.release > b.release : a.seq > b.seq;
  }
};

// One direction of the link.
struct Direction {
  int in = -1, out = -1;  // sockets on the receiving and the sending end
  Nanos delay = 0, jitter = 0;
  bool reorder = false;
  Nanos last_release = 0;  // without reordering, no frame leaves before this
  uint64_t seq = 0;
  uint64_t forwarded = 0, dropped = 0;
  std::priority_queue<Frame, std::vector<Frame>, Later> queue;
};

int
open_end (const char *ifname)
{
  unsigned idx = if_nametoindex (ifname);
  if (!idx) {
    fprintf (stderr, "netsim-delay: no interface %s\n", ifname);
    return -1;
  }
  int fd = socket (AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons (ETH_P_ALL));
  if (fd < 0) {
    perror ("netsim-delay: AF_PACKET socket");
    return -1;
  }
  int one = 1;
  // Frames with their offload state; our own sends are not read back.
  if (setsockopt (fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0 ||
      setsockopt (fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) {
    perror ("netsim-delay: setsockopt");
    close (fd);
    return -1;
  }
  int buf = 8 << 20;
  setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  setsockopt (fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  sockaddr_ll sll {};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons (ETH_P_ALL);
  sll.sll_ifindex = (int) idx;
  if (bind (fd, (sockaddr *) &sll, sizeof sll) < 0) {
    perror ("netsim-delay: bind");
    close (fd);
    return -1;
  }
  // Frames between the hosts are addressed to the other host's MAC.
  packet_mreq mr {};
  mr.mr_ifindex = (int) idx;
  mr.mr_type = PACKET_MR_PROMISC;
  setsockopt (fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr);
  return fd;
}

// Reads every frame waiting on d.in and schedules it.
void
receive (Direction &d, std::mt19937_64 &rng)
{
  std::vector<uint8_t> buf (kMaxFrame);
  while (true) {
    ssize_t n = recv (d.in, buf.data (), buf.size (), 0);
    if (n <= 0)
      return;  // EAGAIN: drained
    Nanos t = now_ns ();
    if (d.queue.size () >= kMaxQueued) {
      d.dropped++;
      continue;
    }
    Nanos delay = d.delay;
    if (d.jitter > 0)  // uniform in [delay - jitter, delay + jitter], as netem does
      delay += std::uniform_int_distribution<Nanos> (-d.jitter, d.jitter) (rng);
    Nanos release = t + std::max<Nanos> (delay, 0);
    if (!d.reorder)  // jitter without reordering: a frame never overtakes another
      release = std::max (release, d.last_release);
    d.last_release = release;
    d.queue.push (Frame {release, d.seq++, std::vector<uint8_t> (buf.begin (), buf.begin () + n)});
  }
}

// Sends the frames due by now; returns the next release time (0: none).
Nanos
release_due (Direction &d)
{
  Nanos t = now_ns ();
  while (!d.queue.empty () && d.queue.top ().release <= t) {
    const Frame &f = d.queue.top ();
    // A full socket buffer or a full qdisc (a rate cap downstream) drops the
    // frame, like a router's output queue would.
    if (send (d.out, f.data.data (), f.data.size (), 0) < 0)
      d.dropped++;
    else
      d.forwarded++;
    d.queue.pop ();
  }
  return d.queue.empty () ? 0 : d.queue.top ().release;
}

// Handles one control line; false on a malformed one.
bool
command (const std::string &line, Direction dirs[2])
{
  std::istringstream in (line);
  std::string verb;
  in >> verb;
  if (verb == "stats") {
    printf ("stats %llu %llu %llu %llu\n", (unsigned long long) dirs[0].forwarded,
        (unsigned long long) dirs[0].dropped, (unsigned long long) dirs[1].forwarded,
        (unsigned long long) dirs[1].dropped);
    return true;
  }
  unsigned dir;
  long long delay_us, jitter_us;
  int reorder;
  if (verb != "dir" || !(in >> dir >> delay_us >> jitter_us >> reorder) || dir > 1 ||
      delay_us < 0 || jitter_us < 0)
    return false;
  Direction &d = dirs[dir];
  d.delay = delay_us * 1000;
  d.jitter = jitter_us * 1000;
  d.reorder = reorder != 0;
  printf ("ok\n");
  return true;
}

}  // namespace

int
main (int argc, char **argv)
{
  if (argc != 3) {
    fprintf (stderr, "usage: netsim-delay IFACE_A IFACE_B  (commands on stdin)\n");
    return 2;
  }
  setvbuf (stdout, nullptr, _IOLBF, 0);
  prctl (PR_SET_TIMERSLACK, 1000UL);  // 1 us: wake up when a frame is due
  sched_param rt {};
  rt.sched_priority = 10;
  if (sched_setscheduler (0, SCHED_FIFO, &rt) < 0)
    perror ("netsim-delay: SCHED_FIFO (delays will vary with the load)");
  Direction dirs[2];
  int a = open_end (argv[1]), b = open_end (argv[2]);
  if (a < 0 || b < 0)
    return 1;
  dirs[0].in = a;
  dirs[0].out = b;
  dirs[1].in = b;
  dirs[1].out = a;
  std::mt19937_64 rng (std::random_device {} ());
  printf ("ready\n");

  std::string pending;  // a partial control line
  while (true) {
    Nanos next = 0;
    for (Direction &d : dirs) {
      Nanos n = release_due (d);
      if (n && (!next || n < next))
        next = n;
    }
    pollfd fds[3] = {{a, POLLIN, 0}, {b, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    timespec timeout, *tp = nullptr;
    if (next) {
      Nanos wait = std::max<Nanos> (next - now_ns (), 0);
      timeout = {(time_t) (wait / 1000000000), (long) (wait % 1000000000)};
      tp = &timeout;
    }
    if (ppoll (fds, 3, tp, nullptr) < 0 && errno != EINTR) {
      perror ("netsim-delay: ppoll");
      return 1;
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].revents & POLLERR) {
        // The end went down (ENETDOWN): read the error to clear it. The
        // socket receives again once the end is up.
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt (fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
      if (fds[i].revents & POLLIN)
        receive (dirs[i], rng);
    }
    if (fds[2].revents & (POLLIN | POLLHUP)) {
      char buf[512];
      ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
      if (n <= 0)
        return 0;  // the test is gone
      pending.append (buf, (size_t) n);
      size_t nl;
      while ((nl = pending.find ('\n')) != std::string::npos) {
        std::string line = pending.substr (0, nl);
        pending.erase (0, nl + 1);
        if (!command (line, dirs))
          printf ("error: bad command '%s'\n", line.c_str ());
      }
    }
  }
}
