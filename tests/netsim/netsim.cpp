// SPDX-License-Identifier: LGPL-2.1-or-later
#include "netsim.h"

#include <glib.h>

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace netsim {

namespace {

// --- cleanup on a fatal signal ---------------------------------------------------
//
// The namespace files of every live Network, as fixed C strings so that a
// signal handler can read them. Written under g_ns_lock by the test thread;
// the handler reads without the lock (it may see a slot half-written at the
// moment of the crash: that namespace is then left to the next run's
// cleanup of stale namespaces).

constexpr int kMaxNamespaces = 256;
char g_ns_paths[kMaxNamespaces][128];
std::mutex g_ns_lock;

void
register_netns (const std::string &path)
{
  std::lock_guard<std::mutex> lk (g_ns_lock);
  for (auto &slot : g_ns_paths)
    if (!slot[0]) {
      g_strlcpy (slot, path.c_str (), sizeof slot);
      return;
    }
}

void
unregister_netns (const std::string &path)
{
  std::lock_guard<std::mutex> lk (g_ns_lock);
  for (auto &slot : g_ns_paths)
    if (path == slot)
      slot[0] = '\0';
}

// Async-signal-safe: what `ip netns del` does, unmount and unlink. The
// children (PR_SET_PDEATHSIG) die with us; the namespaces go with them.
void
on_fatal_signal (int sig)
{
  for (auto &slot : g_ns_paths)
    if (slot[0]) {
      umount2 (slot, MNT_DETACH);
      unlink (slot);
    }
  raise (sig);  // SA_RESETHAND: the default action, once the handler returns
}

void
install_signal_handlers ()
{
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset (&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
    sigaction (sig, &sa, nullptr);
}

// --- helpers ----------------------------------------------------------------------

constexpr const char *kPrefix = "rsim-";

std::string
delay_line_binary ()
{
  const char *env = g_getenv ("NETSIM_DELAY");
  return env && *env ? env : "netsim-delay";
}

std::vector<pid_t>
pids_in (const std::string &netns)
{
  std::string out;
  std::vector<pid_t> pids;
  if (run_command ({"ip", "netns", "pids", netns}, "", &out) != 0)
    return pids;
  std::istringstream in (out);
  long pid;
  while (in >> pid)
    if (pid > 0 && pid != getpid ())
      pids.push_back ((pid_t) pid);
  return pids;
}

// Kills whatever still runs in netns and deletes it.
void
destroy_netns (const std::string &name)
{
  for (pid_t pid : pids_in (name))
    kill (pid, SIGKILL);
  run_command ({"ip", "netns", "del", name});
}

// The namespaces of test processes that are gone (crashed, SIGKILLed).
void
cleanup_stale ()
{
  DIR *dir = opendir ("/run/netns");
  if (!dir)
    return;
  std::vector<std::string> stale;
  while (dirent *e = readdir (dir)) {
    int pid = 0;
    if (strncmp (e->d_name, kPrefix, strlen (kPrefix)) != 0 ||
        sscanf (e->d_name + strlen (kPrefix), "%d-", &pid) != 1 || pid == getpid ())
      continue;
    if (pid <= 0 || (kill (pid, 0) < 0 && errno == ESRCH))
      stale.push_back (e->d_name);
  }
  closedir (dir);
  for (const std::string &name : stale) {
    g_printerr ("netsim: deleting namespace %s of a test that is gone\n", name.c_str ());
    destroy_netns (name);
  }
}

std::string
trimmed (std::string s)
{
  while (!s.empty () && (s.back () == '\n' || s.back () == ' '))
    s.pop_back ();
  return s;
}

std::string
join (const std::vector<std::string> &argv)
{
  std::string s;
  for (const std::string &a : argv)
    s += (s.empty () ? "" : " ") + a;
  return s;
}

// The probe behind Network::unavailable().
std::string
probe ()
{
  if (geteuid () != 0)
    return "netsim needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces";
  for (const char *tool : {"ip", "tc", "nft"}) {
    g_autofree char *path = g_find_program_in_path (tool);
    if (!path)
      return std::string (tool) + " is not installed (scripts/install-deps.sh installs it)";
  }
  g_autofree char *delay = g_find_program_in_path (delay_line_binary ().c_str ());
  if (!delay)
    return "netsim-delay not found: set NETSIM_DELAY (meson test does)";
  std::string ns = std::string (kPrefix) + std::to_string (getpid ()) + "-probe";
  std::string out;
  std::vector<std::vector<std::string>> steps = {
    {"ip", "netns", "add", ns},
    {"ip", "-n", ns, "link", "add", "p0", "type", "veth", "peer", "name", "p1"},
    {"tc", "-n", ns, "qdisc", "add", "dev", "p0", "root", "tbf", "rate", "1mbit", "burst",
        "3000", "latency", "50ms"},
    {"ip", "netns", "exec", ns, "nft", "add", "table", "netdev", "probe"},
  };
  std::string reason;
  for (const auto &step : steps) {
    if (run_command (step, "", &out) != 0) {
      reason = "cannot set up a network namespace here (" + join (step) + ": " +
          trimmed (out) + ")";
      break;
    }
  }
  run_command ({"ip", "netns", "del", ns});
  return reason;
}

}  // namespace

std::string
Host::address () const
{
  return links_.empty () ? "" : links_.front ()->address (*this);
}

// --- Network ------------------------------------------------------------------------

std::string
Network::unavailable ()
{
  static std::once_flag once;
  static std::string reason;
  std::call_once (once, [] { reason = probe (); });
  return reason;
}

Network::Network ()
{
  static std::atomic<int> counter {0};
  static std::once_flag once;
  std::string reason = unavailable ();
  if (!reason.empty ())
    throw Error ("netsim: " + reason);
  cleanup_stale ();
  std::call_once (once, install_signal_handlers);
  prefix_ = kPrefix + std::to_string (getpid ()) + "-" + std::to_string (counter++);
}

Network::~Network ()
{
  for (auto &l : links_)
    l->delay_line_.reset ();
  for (auto it = namespaces_.rbegin (); it != namespaces_.rend (); ++it) {
    destroy_netns (*it);
    unregister_netns ("/run/netns/" + *it);
  }
}

void
Network::must (const std::vector<std::string> &argv, const std::string &netns,
    const std::string &input)
{
  std::string out;
  std::string path = netns.empty () ? "" : "/run/netns/" + netns;
  if (run_command (argv, path, &out, input) != 0)
    throw Error ("netsim: `" + join (argv) + "`" + (netns.empty () ? "" : " in " + netns) +
        " failed: " + trimmed (out) + (input.empty () ? "" : "\ninput:\n" + input));
}

bool
Network::join_netns (const std::string &path)
{
  int fd = open (path.c_str (), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool ok = setns (fd, CLONE_NEWNET) == 0;
  close (fd);
  return ok;
}

std::string
Network::new_netns (const std::string &suffix)
{
  std::string name = prefix_ + "-" + suffix;
  must ({"ip", "netns", "add", name});
  namespaces_.push_back (name);
  register_netns ("/run/netns/" + name);
  must ({"ip", "-n", name, "link", "set", "lo", "up"});
  // No IPv6: no router solicitations, no link-local candidates, nothing
  // but the addresses netsim gives. /proc/sys/net is the namespace of the
  // thread that opens it.
  Host tmp;
  tmp.netns_ = name;
  within (tmp, [] {
    for (const char *p : {"/proc/sys/net/ipv6/conf/all/disable_ipv6",
             "/proc/sys/net/ipv6/conf/default/disable_ipv6"}) {
      std::ofstream f (p);
      f << "1\n";
    }
  });
  return name;
}

Host &
Network::add_host (const std::string &name)
{
  for (char c : name)
    if (!g_ascii_isalnum (c) && c != '-')
      throw Error ("netsim: host names are [a-z0-9-], not '" + name + "'");
  auto host = std::make_unique<Host> ();
  host->name_ = name;
  host->netns_ = new_netns (name);
  hosts_.push_back (std::move (host));
  return *hosts_.back ();
}

Link &
Network::link (Host &a, Host &b, const LinkConfig &config)
{
  if (&a == &b)
    throw Error ("netsim: a link needs two different hosts");
  auto l = std::make_unique<Link> ();
  l->a_ = &a;
  l->b_ = &b;
  l->index_ = (unsigned) links_.size ();
  if (l->index_ > 250)
    throw Error ("netsim: at most 251 links");
  l->netns_ = new_netns ("link" + std::to_string (l->index_));
  std::string subnet = "10.77." + std::to_string (l->index_) + ".";
  l->a_addr_ = subnet + "1";
  l->b_addr_ = subnet + "2";
  const std::string dev = l->interface ();
  for (auto [host, end, addr] : {std::tuple (&a, "la", l->a_addr_),
           std::tuple (&b, "lb", l->b_addr_)}) {
    must ({"ip", "link", "add", dev, "netns", host->netns_, "type", "veth", "peer", "name",
        end, "netns", l->netns_});
    // Wire-sized packets (no 64 KB TSO/GSO frames), so that the rate cap
    // and the loss see what a real link would.
    must ({"ip", "-n", host->netns_, "link", "set", dev, "gso_max_segs", "1", "gso_max_size",
        "1500"});
    must ({"ip", "-n", host->netns_, "addr", "add", addr + "/24", "dev", dev});
    must ({"ip", "-n", host->netns_, "link", "set", dev, "up"});
    must ({"ip", "-n", l->netns_, "link", "set", end, "up"});
  }
  if (!b.has_default_route_) {
    must ({"ip", "-n", b.netns_, "route", "add", "default", "via", l->a_addr_});
    b.has_default_route_ = true;
  }
  l->delay_line_ = std::make_unique<Process> (
      std::vector<std::string> {delay_line_binary (), "la", "lb"}, "/run/netns/" + l->netns_);
  if (!l->delay_line_->wait_prefix ("ready", 5000))
    throw Error ("netsim: netsim-delay did not start in " + l->netns_);
  a.links_.push_back (l.get ());
  b.links_.push_back (l.get ());
  l->ab_ = l->ba_ = config;
  links_.push_back (std::move (l));
  Link &ref = *links_.back ();
  wait_operational (ref);
  apply (ref, true);
  apply (ref, false);
  return ref;
}

void
Network::apply (Link &l, bool a_to_b)
{
  const LinkConfig &c = a_to_b ? l.ab_ : l.ba_;
  if (c.loss_pct < 0 || c.loss_pct > 100)
    throw Error ("netsim: loss_pct must be within 0..100");
  // Rate cap: tbf on the link namespace's end towards the receiver.
  const std::string out_dev = a_to_b ? "lb" : "la";
  if (c.rate_kbit > 0) {
    // A bucket of at least two full frames, or 5 ms at the rate.
    unsigned burst = std::max (3200u, c.rate_kbit * 1000 / 8 / 200);
    must ({"tc", "-n", l.netns_, "qdisc", "replace", "dev", out_dev, "root", "tbf", "rate",
        std::to_string (c.rate_kbit) + "kbit", "burst", std::to_string (burst), "latency",
        std::to_string (std::max (1u, c.queue_ms)) + "ms"});
  } else {
    // Nothing to delete is fine.
    run_command ({"tc", "-n", l.netns_, "qdisc", "del", "dev", out_dev, "root"});
  }
  // Random loss: nftables at the receiver's ingress, IPv4 only (ARP passes).
  const Host &receiver = a_to_b ? *l.b_ : *l.a_;
  const std::string dev = l.interface ();
  std::string script = "add table netdev netsim\n"
      "add chain netdev netsim " + dev + " { type filter hook ingress device \"" + dev +
      "\" priority 0; }\n"
      "flush chain netdev netsim " + dev + "\n";
  long per10k = std::lround (c.loss_pct * 100);
  if (per10k > 0)
    script += "add rule netdev netsim " + dev + " meta protocol ip numgen random mod 10000 < " +
        std::to_string (per10k) + " drop\n";
  must ({"nft", "-f", "-"}, receiver.netns_, script);
  // Delay and jitter: the delay line, direction 0 is la -> lb (a to b).
  std::string cmd = std::string ("dir ") + (a_to_b ? "0 " : "1 ") +
      std::to_string ((long long) c.delay_ms * 1000) + " " +
      std::to_string ((long long) c.jitter_ms * 1000) + " " + (c.reorder ? "1" : "0");
  std::optional<std::string> reply;
  if (l.delay_line_->send (cmd))
    reply = l.delay_line_->wait_line ([] (const std::string &s) {
      return s == "ok" || s.rfind ("error", 0) == 0;
    }, 5000);
  if (!reply || *reply != "ok")
    throw Error ("netsim: netsim-delay in " + l.netns_ + " did not take `" + cmd + "`");
}

void
Network::set_link (Link &link, const LinkConfig &config)
{
  std::lock_guard<std::mutex> lk (changes_);
  link.ab_ = link.ba_ = config;
  apply (link, true);
  apply (link, false);
}

void
Network::set_direction (Link &link, const Host &from, const LinkConfig &config)
{
  std::lock_guard<std::mutex> lk (changes_);
  bool a_to_b = &from == link.a_;
  if (!a_to_b && &from != link.b_)
    throw Error ("netsim: " + from.name () + " is not an end of that link");
  (a_to_b ? link.ab_ : link.ba_) = config;
  apply (link, a_to_b);
}

void
Network::wait_operational (Link &l)
{
  // Carrier changes reach the qdiscs through the kernel's linkwatch, which
  // may take up to a second: until then an interface drops what it sends.
  std::vector<std::pair<std::string, std::string>> ends = {{l.a_->netns_, l.interface ()},
      {l.b_->netns_, l.interface ()}, {l.netns_, "la"}, {l.netns_, "lb"}};
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  for (auto &[ns, dev] : ends) {
    std::string out;
    while (true) {
      run_command ({"ip", "-n", ns, "-br", "link", "show", "dev", dev}, "", &out);
      if (out.find (" UP ") != std::string::npos)
        break;
      if (g_get_monotonic_time () > deadline)
        throw Error ("netsim: " + dev + " in " + ns + " is not up: " + trimmed (out));
      g_usleep (20000);
    }
  }
}

void
Network::down (Link &link)
{
  std::lock_guard<std::mutex> lk (changes_);
  for (const char *end : {"la", "lb"})
    must ({"ip", "-n", link.netns_, "link", "set", end, "down"});
  link.up_ = false;
}

void
Network::up (Link &link)
{
  std::lock_guard<std::mutex> lk (changes_);
  for (const char *end : {"la", "lb"})
    must ({"ip", "-n", link.netns_, "link", "set", end, "up"});
  wait_operational (link);
  // Neighbours that failed to resolve while the link was down would hold
  // traffic back for a while longer; a host whose link comes back starts
  // afresh.
  for (const Host *h : {link.a_, link.b_})
    must ({"ip", "-n", h->netns_, "neigh", "flush", "dev", link.interface ()});
  link.up_ = true;
}

std::string
Network::change_address (Host &end, Link &link)
{
  std::lock_guard<std::mutex> lk (changes_);
  bool is_a = &end == link.a_;
  if (!is_a && &end != link.b_)
    throw Error ("netsim: " + end.name () + " is not an end of that link");
  if (link.next_host_octet_ > 254)
    throw Error ("netsim: no free address left on link " + std::to_string (link.index_));
  std::string &addr = is_a ? link.a_addr_ : link.b_addr_;
  std::string fresh = "10.77." + std::to_string (link.index_) + "." +
      std::to_string (link.next_host_octet_++);
  const std::string dev = link.interface ();
  // Delete first: removing a primary address also removes its secondaries.
  must ({"ip", "-n", end.netns_, "addr", "del", addr + "/24", "dev", dev});
  must ({"ip", "-n", end.netns_, "addr", "add", fresh + "/24", "dev", dev});
  addr = fresh;
  // The default route through this link went with the old address.
  if (!is_a && end.has_default_route_ && end.links_.front () == &link)
    must ({"ip", "-n", end.netns_, "route", "replace", "default", "via", link.a_addr_});
  return fresh;
}

std::unique_ptr<Process>
Network::spawn (const Host &host, const std::vector<std::string> &argv)
{
  return std::make_unique<Process> (argv, host.netns_path ());
}

int
Network::run (const Host &host, const std::vector<std::string> &argv, std::string *output)
{
  return run_command (argv, host.netns_path (), output);
}

int
Network::socket (const Host &host, int domain, int type, int protocol)
{
  int error = 0;
  int fd = within (host, [&] {
    int s = ::socket (domain, type | SOCK_CLOEXEC, protocol);
    error = errno;  // errno is the helper thread's
    return s;
  });
  if (fd < 0)
    throw Error ("netsim: socket() in " + host.netns_ + ": " + strerror (error));
  return fd;
}

void
Network::delay_line_counts (Link &link, const Host &from, unsigned long long *forwarded,
    unsigned long long *dropped)
{
  unsigned long long f[2] = {0, 0}, d[2] = {0, 0};
  if (link.delay_line_->send ("stats")) {
    auto line = link.delay_line_->wait_prefix ("stats ", 5000);
    if (line)
      sscanf (line->c_str (), "stats %llu %llu %llu %llu", &f[0], &d[0], &f[1], &d[1]);
  }
  int dir = &from == link.a_ ? 0 : 1;
  if (forwarded)
    *forwarded = f[dir];
  if (dropped)
    *dropped = d[dir];
}

}  // namespace netsim
