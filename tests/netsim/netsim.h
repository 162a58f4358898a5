// SPDX-License-Identifier: LGPL-2.1-or-later
//
// netsim: a simulated network for tests, made of Linux network namespaces
// (docs/testing.md has the whole picture and how exact each part is).
//
// Every Host is a namespace. Every Link joins two hosts through a namespace
// of its own, where the link's impairments live:
//
//   host A [simN] ══veth══ [la]  link namespace  [lb] ══veth══ [simN] host B
//                              netsim-delay la lb
//
//   A -> B: delay line (netsim-delay, la -> lb), then the rate cap (tc tbf on
//           lb's egress: the bottleneck is a router, not A's own interface),
//           then random loss (nftables at the ingress of B's simN)
//   B -> A: the same, mirrored (delay lb -> la, tbf on la, loss at A)
//
// Link N is 10.77.N.0/24: A is 10.77.N.1 and B 10.77.N.2. B routes
// everything through A unless it has a default route already, so
// link (upstream, downstream) is the order: link (producer, viewer) lets the
// viewer reach every address of the producer. IPv6 is off everywhere and
// there is no 127.0.0.0/8 in use: libnice ignores loopback, so every
// server binds a veth address.
//
// Cleanup: every namespace is named rsim-PID-K-..., PID being the test
// process. The destructor kills what still runs inside and deletes them; a
// fatal signal (SIGTERM from meson's timeout, SIGSEGV, SIGABRT...) deletes
// them from a handler; and every new Network first deletes the namespaces of
// test processes that no longer exist. Children die with the test
// (Process: PR_SET_PDEATHSIG).
//
// Threads: a Network is built (add_host, link) from one thread (the
// test's), which must also outlive the processes it spawns (see process.h),
// the links' delay lines among them. The run-time changes (set_link,
// set_direction, down, up, change_address) take a lock: checks that run
// concurrently on threads of their own may each change their own links.
// spawn, run, socket and ping may be called from any thread. within() runs
// code on a short-lived thread inside a namespace; the calling thread never
// moves.
#pragma once

#include "process.h"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace netsim {

// The impairments of one direction of a link (link() and set_link() use it
// for both).
struct LinkConfig {
  unsigned rate_kbit = 0;   // bandwidth cap in kbit/s (tc tbf); 0: none
  // The capped link's drop-tail buffer, in ms at rate_kbit. 300 ms is the
  // bottleneck queue of the RMCAT test cases (RFC 8867).
  unsigned queue_ms = 300;
  double loss_pct = 0;      // random loss in percent (nftables numgen), 0..100
  unsigned delay_ms = 0;    // one-way delay (netsim-delay)
  unsigned jitter_ms = 0;   // delay varies uniformly in +-jitter_ms
  bool reorder = false;     // whether jitter may reorder packets (default: FIFO)
};

class Link;

class Host {
public:
  const std::string &name () const { return name_; }
  const std::string &netns () const { return netns_; }  // as `ip netns` names it
  std::string netns_path () const { return "/run/netns/" + netns_; }
  // The host's address on its first link ("" before it has one).
  std::string address () const;

private:
  friend class Network;
  std::string name_, netns_;
  std::vector<Link *> links_;
  bool has_default_route_ = false;
};

class Link {
public:
  Host &a () const { return *a_; }
  Host &b () const { return *b_; }
  unsigned index () const { return index_; }
  const std::string &netns () const { return netns_; }
  // The address of an end (a or b) on this link, and its interface there.
  std::string address (const Host &end) const { return &end == a_ ? a_addr_ : b_addr_; }
  std::string interface () const { return "sim" + std::to_string (index_); }
  // The impairments from `from` to the other end.
  const LinkConfig &config (const Host &from) const { return &from == a_ ? ab_ : ba_; }
  bool is_up () const { return up_; }

private:
  friend class Network;
  Host *a_ = nullptr, *b_ = nullptr;
  unsigned index_ = 0;
  std::string netns_, a_addr_, b_addr_;
  LinkConfig ab_, ba_;
  bool up_ = true;
  unsigned next_host_octet_ = 10;  // for change_address
  std::unique_ptr<Process> delay_line_;
};

class Network {
public:
  // Why this machine cannot run netsim ("" when it can): not root, no
  // ip/tc/nft, namespaces or veth refused... Tests skip with this reason.
  static std::string unavailable ();

  // Throws Error when a namespace cannot be made.
  Network ();
  ~Network ();
  Network (const Network &) = delete;
  Network &operator= (const Network &) = delete;

  // A new host (namespace), named for logs and namespace names ([a-z0-9-]).
  Host &add_host (const std::string &name);
  // Joins a and b; b's default route goes through a (see above).
  Link &link (Host &a, Host &b, const LinkConfig &config = {});

  // Changes the impairments at run time: both directions, or from `from`.
  void set_link (Link &link, const LinkConfig &config);
  void set_direction (Link &link, const Host &from, const LinkConfig &config);
  // Takes the link down (both hosts see no carrier; nothing passes) or up
  // again, returning once it passes traffic. Addresses and routes stay.
  void down (Link &link);
  void up (Link &link);
  // Gives `end` a new address on link (the next free one in its subnet) and
  // returns it. Routes through the link are restored.
  std::string change_address (Host &end, Link &link);

  // A process inside host's namespace (argv[0] looked up in PATH).
  std::unique_ptr<Process> spawn (const Host &host, const std::vector<std::string> &argv);
  // Runs a command inside host's namespace; returns its exit code, output in *output.
  int run (const Host &host, const std::vector<std::string> &argv, std::string *output = nullptr);
  // Runs f on a thread that joined host's namespace, and returns its result.
  // Sockets made there stay in that namespace.
  template <typename F>
  auto within (const Host &host, F f) -> decltype (f ());
  // A socket (caller closes it) in host's namespace.
  int socket (const Host &host, int domain, int type, int protocol = 0);
  // ICMP echo from host to address: count requests, one every interval_ms.
  // Returns the round trip times in ms of those answered.
  std::vector<double> ping (const Host &from, const std::string &to, int count,
      int interval_ms = 20);
  // What netsim-delay forwarded and dropped from `from` to the other end.
  void delay_line_counts (Link &link, const Host &from, unsigned long long *forwarded,
      unsigned long long *dropped);

private:
  std::string new_netns (const std::string &suffix);
  void delete_netns (const std::string &name);
  void apply (Link &link, bool a_to_b);
  void wait_operational (Link &link);  // until all four ends are UP
  // Runs a command in the root namespace, or in netns; throws Error unless it exits 0.
  void must (const std::vector<std::string> &argv, const std::string &netns = "",
      const std::string &input = "");
  bool join_netns (const std::string &netns_path);  // on the calling thread

  std::mutex changes_;  // serialises the run-time changes
  std::string prefix_;
  std::vector<std::string> namespaces_;  // every one made, in order
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<std::unique_ptr<Link>> links_;
};

template <typename F>
auto
Network::within (const Host &host, F f) -> decltype (f ())
{
  using R = decltype (f ());
  std::exception_ptr failure;
  std::string path = host.netns_path ();
  if constexpr (std::is_void_v<R>) {
    std::thread t ([&] {
      try {
        if (!join_netns (path))
          throw Error ("netsim: cannot enter " + path);
        f ();
      } catch (...) {
        failure = std::current_exception ();
      }
    });
    t.join ();
    if (failure)
      std::rethrow_exception (failure);
  } else {
    R result {};
    std::thread t ([&] {
      try {
        if (!join_netns (path))
          throw Error ("netsim: cannot enter " + path);
        result = f ();
      } catch (...) {
        failure = std::current_exception ();
      }
    });
    t.join ();
    if (failure)
      std::rethrow_exception (failure);
    return result;
  }
}

}  // namespace netsim
