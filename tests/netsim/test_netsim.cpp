// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The network simulator proves itself: a rate cap limits TCP and UDP to
// about the cap, loss drops about the configured share, the delay line adds
// the configured delay, a link taken down passes nothing and passes again
// once up, an address change takes effect; and rtcstream streams across it.
// Bounds are wide: these check the simulator's settings took, not its
// precision, which docs/testing.md measures.
#include "netsim.h"
#include "peers.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <thread>

using netsim::GstProcess;
using netsim::Host;
using netsim::Link;
using netsim::LinkConfig;
using netsim::Network;
using netsim::SignallingServer;
using netsim::int_fields;
using netsim::plain;
using netsim::stats_number;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint16_t kPort = 5001;

sockaddr_in
address_of (const std::string &ip, uint16_t port)
{
  sockaddr_in a {};
  a.sin_family = AF_INET;
  a.sin_port = htons (port);
  inet_pton (AF_INET, ip.c_str (), &a.sin_addr);
  return a;
}

double
median (std::vector<double> v)
{
  if (v.empty ())
    return 0;
  std::sort (v.begin (), v.end ());
  return v[v.size () / 2];
}

// bytes received in `seconds`, as kbit/s.
double
kbit_per_s (uint64_t bytes, double seconds)
{
  return bytes * 8 / 1000.0 / seconds;
}

// Skips, with the reason, where network namespaces cannot be made.
class NetsimAvailable : public ::testing::Test {
protected:
  void SetUp () override
  {
    std::string why = Network::unavailable ();
    if (!why.empty ())
      GTEST_SKIP () << why;
  }
};

class Netsim : public NetsimAvailable {
protected:
  void SetUp () override
  {
    NetsimAvailable::SetUp ();
    if (IsSkipped ())
      return;
    net = std::make_unique<Network> ();
    producer = &net->add_host ("producer");
    viewer = &net->add_host ("viewer");
  }

  // TCP throughput from `from` to `to` over link, in kbit/s: every byte sent
  // for `seconds`, over the time from the connection to the last byte read.
  // A rate cap can deliver no more than its rate over that time plus one
  // bucket, so the figure cannot overshoot because this thread ran late (as a
  // window opened mid-stream can: a loss holds later segments out of reach
  // until its retransmission lands, then they all arrive at once).
  double tcp_kbit (Host &from, Host &to, Link &link, int seconds)
  {
    int listener = net->socket (to, AF_INET, SOCK_STREAM);
    int one = 1;
    setsockopt (listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in at = address_of (link.address (to), kPort);
    EXPECT_EQ (bind (listener, (sockaddr *) &at, sizeof at), 0);
    listen (listener, 1);
    int sender = net->socket (from, AF_INET, SOCK_STREAM);
    // A small send buffer: what is still in it at the end drains in well
    // under a second.
    int sndbuf = 64 << 10;
    setsockopt (sender, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    EXPECT_EQ (connect (sender, (sockaddr *) &at, sizeof at), 0);
    int receiver = accept (listener, nullptr, nullptr);
    auto start = Clock::now ();
    auto end = start + std::chrono::seconds (seconds);
    std::thread send_thread ([&] {
      std::vector<char> chunk (16384, 'x');
      while (Clock::now () < end)
        if (::send (sender, chunk.data (), chunk.size (), MSG_NOSIGNAL) < 0)
          break;
      shutdown (sender, SHUT_WR);
    });
    uint64_t counted = 0;
    Clock::time_point last = start;
    std::vector<char> buf (65536);
    timeval tv = {0, 200000};
    setsockopt (receiver, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (Clock::now () < end + std::chrono::seconds (5)) {
      ssize_t n = recv (receiver, buf.data (), buf.size (), 0);
      if (n == 0)
        break;
      if (n > 0) {
        counted += (uint64_t) n;
        last = Clock::now ();
      }
    }
    send_thread.join ();
    for (int fd : {listener, sender, receiver})
      close (fd);
    double elapsed = std::chrono::duration<double> (last - start).count ();
    return elapsed > 0 ? kbit_per_s (counted, elapsed) : 0;
  }

  // UDP datagrams of 1200 bytes sent at send_kbit for `seconds`; returns
  // what arrived, in kbit/s from 1 s on, and the datagram counts.
  double udp_kbit (Host &from, Host &to, Link &link, double send_kbit, int seconds,
      unsigned *sent_count = nullptr, unsigned *received_count = nullptr)
  {
    int rx = net->socket (to, AF_INET, SOCK_DGRAM);
    int tx = net->socket (from, AF_INET, SOCK_DGRAM);
    sockaddr_in at = address_of (link.address (to), kPort);
    EXPECT_EQ (bind (rx, (sockaddr *) &at, sizeof at), 0);
    int big = 4 << 20;
    setsockopt (rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    auto start = Clock::now ();
    auto end = start + std::chrono::seconds (seconds);
    std::atomic<unsigned> sent {0};
    std::thread send_thread ([&] {
      std::vector<char> d (1200, 'u');
      auto gap = std::chrono::duration<double> (1200 * 8 / (send_kbit * 1000));
      auto next = Clock::now ();
      while (next < end) {
        std::this_thread::sleep_until (next);
        if (sendto (tx, d.data (), d.size (), 0, (sockaddr *) &at, sizeof at) > 0)
          sent++;
        next += std::chrono::duration_cast<Clock::duration> (gap);
      }
    });
    uint64_t counted = 0;
    unsigned received = 0;
    std::vector<char> buf (2048);
    timeval tv = {0, 200000};
    setsockopt (rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    // Until the end, and the datagrams still in the queue and delay line.
    // Each datagram is placed in the window by the time the kernel received
    // it (SO_TIMESTAMPNS), not by when this thread got to read it.
    int on = 1;
    setsockopt (rx, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    auto to_wall = [&] (Clock::time_point t) {
      return std::chrono::system_clock::now () + (t - Clock::now ());
    };
    auto window_open = to_wall (start + std::chrono::seconds (1));
    auto window_close = to_wall (end);
    while (Clock::now () < end + std::chrono::milliseconds (500)) {
      char control[CMSG_SPACE (sizeof (timespec))];
      iovec iov = {buf.data (), buf.size ()};
      msghdr msg = {};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t n = recvmsg (rx, &msg, 0);
      if (n <= 0)
        continue;
      received++;
      auto at = std::chrono::system_clock::now ();
      for (cmsghdr *c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          memcpy (&ts, CMSG_DATA (c), sizeof ts);
          at = std::chrono::system_clock::time_point (std::chrono::duration_cast<
              std::chrono::system_clock::duration> (
              std::chrono::seconds (ts.tv_sec) + std::chrono::nanoseconds (ts.tv_nsec)));
        }
      if (at > window_open && at <= window_close)
        counted += (uint64_t) n;
    }
    send_thread.join ();
    close (rx);
    close (tx);
    if (sent_count)
      *sent_count = sent;
    if (received_count)
      *received_count = received;
    return kbit_per_s (counted, seconds - 1);
  }

  std::unique_ptr<Network> net;
  Host *producer = nullptr, *viewer = nullptr;
};

TEST_F (Netsim, OpenLinkPassesTraffic)
{
  Link &l = net->link (*producer, *viewer);
  EXPECT_EQ (l.address (*producer), producer->address ());
  EXPECT_EQ (net->ping (*viewer, producer->address (), 5).size (), 5u);
  EXPECT_EQ (net->ping (*producer, viewer->address (), 5).size (), 5u);
}

TEST_F (Netsim, RateCapLimitsTcpAndUdpToAboutTheCap)
{
  Link &l = net->link (*producer, *viewer, {.rate_kbit = 2000});
  double tcp = tcp_kbit (*producer, *viewer, l, 3);
  double udp = udp_kbit (*producer, *viewer, l, 4000, 3);
  std::cout << "measured through a 2000 kbit/s cap: TCP " << tcp << " kbit/s, UDP " << udp
            << " kbit/s" << std::endl;
  // Payload under a 2000 kbit/s cap on frames: headers take ~4%.
  EXPECT_GT (tcp, 1600);
  EXPECT_LT (tcp, 2050);
  EXPECT_GT (udp, 1600);
  EXPECT_LT (udp, 2100);
  // The cap is per direction: the other way is open (both measured at once).
  net->set_direction (l, *producer, {.rate_kbit = 500});
  auto back = std::async (std::launch::async, [&] {
    return udp_kbit (*viewer, *producer, l, 1500, 3);
  });
  EXPECT_LT (udp_kbit (*producer, *viewer, l, 1500, 3), 530);
  EXPECT_GT (back.get (), 1300);
}

TEST_F (Netsim, LossDropsAboutTheConfiguredShare)
{
  Link &l = net->link (*producer, *viewer);
  net->set_direction (l, *producer, {.loss_pct = 10});
  unsigned sent = 0, received = 0;
  // The other direction is not lossy (measured at the same time).
  unsigned back_sent = 0, back_received = 0;
  auto back = std::async (std::launch::async, [&] {
    udp_kbit (*viewer, *producer, l, 4800, 2, &back_sent, &back_received);
  });
  udp_kbit (*producer, *viewer, l, 4800, 3, &sent, &received);  // 500 datagrams/s
  back.get ();
  ASSERT_GT (sent, 1000u);
  double lost = 1.0 - (double) received / sent;
  std::cout << "measured at 10% loss: " << sent - received << " of " << sent << " lost"
            << std::endl;
  EXPECT_GT (lost, 0.07);
  EXPECT_LT (lost, 0.13);
  EXPECT_EQ (back_received, back_sent);
}

TEST_F (Netsim, DelayLineAddsTheConfiguredDelay)
{
  Link &l = net->link (*producer, *viewer, {.delay_ms = 25});
  std::vector<double> rtt = net->ping (*viewer, producer->address (), 40);
  ASSERT_GE (rtt.size (), 39u);
  EXPECT_GE (*std::min_element (rtt.begin (), rtt.end ()), 49.9);
  EXPECT_LT (median (rtt), 53);

  // Jitter: 20 +- 10 ms each way, so round trips spread over 20..60 ms.
  net->set_link (l, {.delay_ms = 20, .jitter_ms = 10});
  rtt = net->ping (*viewer, producer->address (), 60);
  ASSERT_GE (rtt.size (), 59u);
  std::sort (rtt.begin (), rtt.end ());
  EXPECT_GE (rtt.front (), 19.9);
  EXPECT_GT (rtt[rtt.size () * 9 / 10] - rtt[rtt.size () / 10], 8.0);

  // Changed at run time, back down.
  net->set_link (l, {.delay_ms = 5});
  rtt = net->ping (*viewer, producer->address (), 20);
  ASSERT_GE (rtt.size (), 19u);
  EXPECT_GE (*std::min_element (rtt.begin (), rtt.end ()), 9.9);
  EXPECT_LT (median (rtt), 13);
}

TEST_F (Netsim, LinkDownStopsTrafficAndUpRestoresIt)
{
  Link &l = net->link (*producer, *viewer);
  ASSERT_EQ (net->ping (*viewer, producer->address (), 5).size (), 5u);
  net->down (l);
  EXPECT_FALSE (l.is_up ());
  EXPECT_EQ (net->ping (*viewer, producer->address (), 10).size (), 0u);
  net->up (l);
  EXPECT_GE (net->ping (*viewer, producer->address (), 10).size (), 9u);
}

TEST_F (Netsim, AddressChangeTakesEffect)
{
  Link &l = net->link (*producer, *viewer);
  std::string before = viewer->address ();
  std::string after = net->change_address (*viewer, l);
  EXPECT_NE (before, after);
  EXPECT_EQ (viewer->address (), after);
  EXPECT_GE (net->ping (*producer, after, 5).size (), 4u);
  EXPECT_EQ (net->ping (*producer, before, 5).size (), 0u);
  // The viewer's default route came back with the new address.
  EXPECT_GE (net->ping (*viewer, producer->address (), 5).size (), 4u);
}

TEST_F (Netsim, SeveralViewersReachTheProducersAddress)
{
  Host &second = net->add_host ("viewer2");
  net->link (*producer, *viewer);
  Link &l2 = net->link (*producer, second, {.delay_ms = 10});
  EXPECT_NE (l2.address (*producer), producer->address ());
  // The second viewer reaches the producer's first address through its own link.
  std::vector<double> rtt = net->ping (second, producer->address (), 5);
  ASSERT_EQ (rtt.size (), 5u);
  EXPECT_GE (median (rtt), 19.9);
}

// --- rtcstream across the simulated network ---------------------------------
//
// Each streaming check waits tens of seconds for a stream to settle. They
// run concurrently, in three rounds of two to four (what this 2-core
// machine carries: a 720p encoder or Chromium is most of a core), on one network with one
// signalling server in the producer's namespace; each check has its own
// viewer hosts and links and its own stream on the server, so that none
// sees another's traffic. A check runs on a thread of its own and only
// measures, into a Record; its test asserts on the record (gtest
// attributes failures to the running test, so the threads do not assert).
// The first test of a round starts the whole round (the checks whose
// tests run); each test then waits for its own check.

// What a check measured, for its test to assert on.
struct Record {
  std::map<std::string, double> n;       // numbers
  std::map<std::string, std::string> s;  // strings (stats, caps)
  std::string log;                       // what its processes said, for failures
  std::string skip;                      // set: the check skips, this is why
  std::string error;                     // set: it could not run
  double num (const std::string &k) const
  {
    auto it = n.find (k);
    return it == n.end () ? NAN : it->second;
  }
  std::string str (const std::string &k) const
  {
    auto it = s.find (k);
    return it == s.end () ? "" : it->second;
  }
};

// What a check gets: the shared network, its producer and server.
struct Env {
  Network &net;
  Host &producer;
  SignallingServer &server;
};

// Prepares a check on the test's thread (its hosts and links: the links'
// delay lines must be children of a thread that outlives them) and returns
// its body, which runs on a thread of its own.
using Body = std::function<void (Record &)>;
using Prepare = std::function<Body (Env &)>;

struct CheckSpec {
  std::string name;
  int round;
  Prepare prepare;
};

std::vector<CheckSpec> &
checks ()
{
  static std::vector<CheckSpec> all;
  return all;
}

// Registers a check (at static initialisation), named as its test in
// Streams: a check runs only when its test does.
bool
add_check (const std::string &name, int round, Prepare prepare)
{
  checks ().push_back ({name, round, std::move (prepare)});
  return true;
}

// Seconds since `start`, waited for.
struct Timeline {
  Clock::time_point start = Clock::now ();
  void at (double s) const
  {
    std::this_thread::sleep_until (start + std::chrono::duration_cast<Clock::duration> (
        std::chrono::duration<double> (s)));
  }
};

class Streams : public NetsimAvailable {
protected:
  static void TearDownTestSuite ()
  {
    for (auto &kv : running_)
      if (kv.second.thread.joinable ())
        kv.second.thread.join ();
    running_.clear ();
    server_.reset ();
    net_.reset ();
  }

  // The record of check `name` once it finished; starts its round first
  // when it has not started (earlier rounds are over by then).
  Record result (const std::string &name)
  {
    if (!running_.count (name))
      start_round (name);
    auto it = running_.find (name);
    if (it == running_.end ())
    {
      Record none;
      none.error = "no check named " + name;
      return none;
    }
    if (it->second.thread.joinable ())
      it->second.thread.join ();
    return *it->second.record;
  }

private:
  struct Running {
    std::thread thread;
    std::shared_ptr<Record> record;
  };

  void start_round (const std::string &name)
  {
    int round = -1;
    for (const CheckSpec &c : checks ())
      if (c.name == name)
        round = c.round;
    for (auto &kv : running_)
      if (kv.second.thread.joinable ())
        kv.second.thread.join ();
    if (!net_) {
      net_ = std::make_unique<Network> ();
      producer_ = &net_->add_host ("producer");
      // The producer's first link: the server's address, which every other
      // link's viewer reaches through its own link.
      Host &home = net_->add_host ("home");
      net_->link (*producer_, home);
      server_ = std::make_unique<SignallingServer> (*net_, *producer_);
    }
    Env env {*net_, *producer_, *server_};
    for (const CheckSpec &c : checks ()) {
      if (c.round != round || !selected (c.name))
        continue;
      auto record = std::make_shared<Record> ();
      Running &r = running_[c.name];
      r.record = record;
      if (!server_->ok ()) {
        record->error = "rtcstream-signalling did not start in the producer's namespace";
        continue;
      }
      Body body;
      try {
        body = c.prepare (env);
      } catch (const std::exception &e) {
        record->error = e.what ();
        continue;
      }
      r.thread = std::thread ([body, record] {
        try {
          body (*record);
        } catch (const std::exception &e) {
          record->error = e.what ();
        }
      });
    }
  }

  // Whether the test of that name in this suite runs (--gtest_filter).
  static bool selected (const std::string &name)
  {
    const ::testing::UnitTest &all = *::testing::UnitTest::GetInstance ();
    for (int i = 0; i < all.total_test_suite_count (); i++) {
      const ::testing::TestSuite &suite = *all.GetTestSuite (i);
      if (std::string (suite.name ()) != "Streams")
        continue;
      for (int j = 0; j < suite.total_test_count (); j++)
        if (suite.GetTestInfo (j)->name () == name)
          return suite.GetTestInfo (j)->should_run ();
    }
    return false;
  }

  static std::unique_ptr<Network> net_;
  static Host *producer_;
  static std::unique_ptr<SignallingServer> server_;
  static std::map<std::string, Running> running_;
};

std::unique_ptr<Network> Streams::net_;
Host *Streams::producer_ = nullptr;
std::unique_ptr<SignallingServer> Streams::server_;
std::map<std::string, Streams::Running> Streams::running_;

// Skips, or fails, as the record says; true when the test goes on.
#define RECORD_OR_RETURN(var, name)                       \
  Record var = result (name);                             \
  if (!var.skip.empty ())                                 \
    GTEST_SKIP () << var.skip;                            \
  ASSERT_TRUE (var.error.empty ()) << var.error << "\n" << var.log

// Whether the sink registered with the server within 20 s; if not, r says so.
bool
registered (GstProcess &sink, Record &r)
{
  if (sink.wait_registered (20000))
    return true;
  r.error = "the sink did not register: " + sink.messages ();
  return false;
}

// 1280x720 30 fps of videotestsrc's default picture (a patch of random
// noise: VP8 needs ~2 Mbit/s for it) into an rtcstreamsink named sink.
std::string
hd_sink (const SignallingServer &server, const std::string &stream, const std::string &extra = "")
{
  return "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1 ! "
      "rtcstreamsink name=sink uri=" + server.uri (stream) + extra;
}

// --- the checks (round 1: the 500 kbit/s viewer, loss, the adaptive playout
// delay, the open link; round 2: the 150 kbit/s viewer, Chromium, pre-encoded
// video; round 3: the cap that falls and rises, the ladder) ---

// Congestion control (issue 10): a 1280x720 30 fps stream behind a 500
// kbit/s link. Without it the viewer decodes nothing at all (see
// docs/performance.md); with it, the sink's encoder follows the viewer's
// bandwidth estimate and shrinks the picture until it fits. Over the last
// 15 s of a 40 s run the viewer gets at least 24 frames a second, and the
// estimate stays below the cap; audio keeps flowing.
constexpr unsigned k500Kbit = 500;
bool behind_500k = add_check ("AViewerBehind500kbitsKeepsPlaying", 1, [] (Env &env) -> Body {
  Host &viewer = env.net.add_host ("v500k");
  env.net.link (env.producer, viewer, {.rate_kbit = k500Kbit});
  return [&env, &viewer] (Record &r) {
    GstProcess sink (env.net, env.producer, hd_sink (env.server, "c500k",
        " audiotestsrc is-live=true wave=ticks ! sink.audio_0"));
    if (!registered (sink, r))
      return;
    GstProcess src (env.net, viewer, "rtcstreamsrc name=src uri=" + env.server.uri ("c500k") +
        " src.video_0 ! fakesink name=out src.audio_0 ! fakesink name=sound", {"out", "sound"});
    Timeline t;
    t.at (25);
    uint64_t before = src.frames ("out"), sound_before = 0, sound_after = 0;
    src.frames ("sound", &sound_before);
    // The estimate is a sawtooth (cut to 85% of what arrived at each
    // overuse, then grown back; 360-600 kbit/s measured) with a period of a
    // few seconds: its mean is read once a second over the window (five
    // readings 3 s apart were 454 and 521 kbit/s in two runs whose
    // per-second means were 488 and 491).
    double mean = 0;
    std::string stats;
    const int first = 26, last = 40;
    for (int s = first; s <= last; s++) {
      t.at (s);
      stats = sink.stats ("sink");
      mean += stats_number (stats, "bandwidth-estimate") / (last - first + 1);
    }
    r.n["frames"] = src.frames ("out") - before;
    src.frames ("sound", &sound_after);
    // Decoded audio: 48 kHz, 2 channels (rtcstreamsrc's Opus decoder), S16.
    r.n["sound-s"] = (sound_after - sound_before) / (48000.0 * 2 * 2);
    r.n["estimate"] = mean;
    r.s["stats"] = stats;
    r.s["sound-caps"] = src.caps ("sound");
    r.log = src.messages () + sink.messages ();
  };
});

TEST_F (Streams, AViewerBehind500kbitsKeepsPlaying)
{
  RECORD_OR_RETURN (r, "AViewerBehind500kbitsKeepsPlaying");
  std::cout << "behind " << k500Kbit << " kbit/s: " << r.num ("frames") << " frames in the last "
            << "15 s, mean estimate " << r.num ("estimate") << " bit/s, " << r.num ("sound-s")
            << " s of sound" << std::endl;
  EXPECT_GE (r.num ("frames"), 24.0 * 15) << r.log << plain (r.str ("stats"));
  EXPECT_GE (r.num ("sound-s"), 14.0) << r.str ("sound-caps") << r.log;
  EXPECT_LT (r.num ("estimate"), k500Kbit * 1000.0) << r.str ("stats");
  EXPECT_GT (r.num ("estimate"), 0.0) << r.str ("stats");
  EXPECT_NE (r.str ("stats").find ("transport-cc"), std::string::npos) << r.str ("stats");
  EXPECT_GT (stats_number (r.str ("stats"), "bitrate-target"), 0.0) << r.str ("stats");
  // What the estimate was made of: TWCC reported the packets, the delay
  // detector compared groups of them all along, and what arrived is known.
  EXPECT_GT (stats_number (r.str ("stats"), "feedback-packets"), 1000.0) << r.str ("stats");
  EXPECT_GT (stats_number (r.str ("stats"), "delay-groups"), 100.0) << r.str ("stats");
  EXPECT_GT (stats_number (r.str ("stats"), "bitrate-received"), 0.0) << r.str ("stats");
}

// Random loss on a link with 40 ms of round trip (issue 10): 5%, then 10%
// of the packets lost in each direction, and the viewer still decodes at
// least 97% of the frames the camera made (30 per second) once the stream
// has settled: retransmissions repair what is lost (the receiver waits
// long enough for them: with a fixed latency of 50 ms it decoded ~50%), and
// the loss alone does not make the sender starve the stream.
bool random_loss = add_check ("RandomLossWith40msRoundTripLosesAlmostNoFrame", 1, [] (Env &env) -> Body {
  Host &viewer = env.net.add_host ("vloss");
  Link &link = env.net.link (env.producer, viewer, {.loss_pct = 5, .delay_ms = 20});
  return [&env, &viewer, &link] (Record &r) {
    GstProcess sink (env.net, env.producer,
        "videotestsrc is-live=true ! video/x-raw,width=640,height=360,framerate=30/1 ! "
        "rtcstreamsink name=sink uri=" + env.server.uri ("closs"));
    if (!registered (sink, r))
      return;
    GstProcess src (env.net, viewer, "rtcstreamsrc name=src uri=" + env.server.uri ("closs") +
        " ! fakesink name=out", {"out"});
    Timeline t;
    // Frames decoded from `from` to `to` s, as a share of the camera's.
    auto decoded_share = [&] (int from, int to, const std::string &key) {
      t.at (from);
      uint64_t before = src.frames ("out");
      t.at (to);
      uint64_t decoded = src.frames ("out") - before;
      r.n[key] = decoded / (30.0 * (to - from));
      std::string stats = sink.stats ("sink");
      r.s[key] = std::to_string (decoded) + " frames decoded in " + std::to_string (to - from) +
          " s, sent " + std::to_string (stats_number (stats, "bitrate-sent")) + " bit/s, estimate " +
          std::to_string (stats_number (stats, "bandwidth-estimate")) + " bit/s, loss " +
          std::to_string (stats_number (stats, "packet-loss")) + ", retransmissions " +
          std::to_string (stats_number (stats, "retransmissions-sent")) + " sent, " +
          std::to_string (stats_number (stats, "retransmissions-dropped")) + " dropped; receiver: " +
          src.stats ("src");
    };
    // The first seconds go to ICE and DTLS, whose lost packets are resent
    // after timeouts of their own; the window starts when the stream runs.
    // (Windows of 24 s: a packet lost for good costs the frames until the
    // next keyframe, ~0.5-1.2 s, which over 12 s alone was 10% once at 5%
    // loss: 325 frames of 360.)
    decoded_share (12, 36, "5");
    env.net.set_link (link, {.loss_pct = 10, .delay_ms = 20});
    decoded_share (40, 64, "10");
    r.log = src.messages () + sink.messages ();
  };
});

TEST_F (Streams, RandomLossWith40msRoundTripLosesAlmostNoFrame)
{
  RECORD_OR_RETURN (r, "RandomLossWith40msRoundTripLosesAlmostNoFrame");
  for (const char *loss : {"5", "10"})
    std::cout << loss << "% loss, 40 ms round trip: " << 100 * r.num (loss)
              << "% of the camera's frames decoded: " << r.str (loss) << std::endl;
  EXPECT_GE (r.num ("5"), 0.97) << r.str ("5") << "\n" << r.log;
  // (At 10% the measured loss stands above 10% every other period: GCC's
  // rule cut the estimate each time, the picture stepped down with a
  // keyframe each time, and 86-98% were decoded. Random loss builds no
  // queue, and the estimator now holds for it: bandwidth.h.)
  EXPECT_GE (r.num ("10"), 0.97) << r.str ("10") << "\n" << r.log;
  // Over UDP: with ICE-TCP on, libnice nominated a TCP pair here in 2 of 3
  // runs (the first working host pair), whose own retransmissions hid the
  // loss and held frames back (51% decoded once).
  EXPECT_NE (r.str ("5").find ("candidate-protocol=(string)udp"), std::string::npos)
      << r.str ("5");
}

// A link too thin even for the smallest picture at the full frame rate
// (issue 10, item 3): behind 150 kbit/s the sink's encoder, following its
// viewer's estimate, shrinks the picture to a quarter of 1280x720 and then
// halves the frame rate (30 -> 15 fps: at most 150 kbit/s for 30 frames a
// second is less than 5000 bits a frame); the viewer keeps getting those 15
// frames a second, and the consumer's stats say picture-framerate 15. Once
// the cap is lifted the frame rate comes back to 30 and the viewer gets
// (nearly) 30 frames a second: at 15 fps the sender is app-limited (120-240
// kbit/s) and its estimate grows only a little above what it sends, so it
// probes upward (rtcstream/probe.h): clusters at twice the estimate that
// the open link carries lift the estimate, and the picture steps up.
// (Before probing it stayed at 15 fps for the 25 s then waited in 2 of 9
// full runs.) Waited for up to 45 s: no assertion on when.
constexpr unsigned kThinKbit = 150;
bool frame_rate_step = add_check ("ALinkTooThinForTheSmallestPictureHalvesTheFrameRate", 2, [] (Env &env) -> Body {
  Host &viewer = env.net.add_host ("v150k");
  Link &link = env.net.link (env.producer, viewer, {.rate_kbit = kThinKbit});
  return [&env, &viewer, &link] (Record &r) {
    GstProcess sink (env.net, env.producer, hd_sink (env.server, "c150k", " bandwidth-probing=true"));
    if (!registered (sink, r))
      return;
    GstProcess src (env.net, viewer, "rtcstreamsrc uri=" + env.server.uri ("c150k") +
        " ! identity name=decoded ! fakesink name=out", {"out"});
    Timeline t;
    // 20-30 s: the frame rate, and the estimate every 2 s.
    t.at (20);
    uint64_t thin_before = src.frames ("out");
    double mean = 0;
    for (int s = 22; s <= 30; s += 2) {
      t.at (s);
      r.s["thin-stats"] = sink.stats ("sink");
      mean += stats_number (r.s["thin-stats"], "bandwidth-estimate") / 5;
    }
    r.n["thin-fps"] = (src.frames ("out") - thin_before) / 10.0;
    r.n["thin-estimate"] = mean;
    r.s["thin-caps"] = src.caps ("decoded");
    env.net.set_direction (link, env.producer, {});
    // Back up: waited for up to 45 s, until the viewer decoded 24+ frames a
    // second over the last 5 s (a first step back to 30 fps may fail: VP8
    // put out a third of the frames for seconds after it, and the picture
    // stepped down again until a later step held).
    std::vector<uint64_t> decoded;  // each second from the lift
    int s = 30;
    for (; s <= 75; s++) {
      t.at (s);
      decoded.push_back (src.frames ("out"));
      if (decoded.size () > 5 && decoded.back () - decoded[decoded.size () - 6] >= 24 * 5)
        break;
    }
    r.n["back"] = s <= 75;
    r.n["back-after"] = s - 30;
    r.n["open-fps"] = decoded.size () > 5
        ? (decoded.back () - decoded[decoded.size () - 6]) / 5.0 : 0;
    r.s["open-stats"] = sink.stats ("sink");
    r.log = src.messages () + sink.messages ();
  };
});

TEST_F (Streams, ALinkTooThinForTheSmallestPictureHalvesTheFrameRate)
{
  RECORD_OR_RETURN (r, "ALinkTooThinForTheSmallestPictureHalvesTheFrameRate");
  const std::string thin = r.str ("thin-stats"), open = r.str ("open-stats");
  std::cout << "behind " << kThinKbit << " kbit/s: " << r.num ("thin-fps") << " fps, "
            << r.str ("thin-caps") << ", picture " << stats_number (thin, "picture-width") << "x"
            << stats_number (thin, "picture-height") << " at "
            << stats_number (thin, "picture-framerate") << " fps, mean estimate "
            << r.num ("thin-estimate") << " bit/s; open again: " << r.num ("open-fps")
            << " fps over the 5 s ending " << r.num ("back-after") << " s after, picture "
            << stats_number (open, "picture-width") << "x" << stats_number (open, "picture-height")
            << " at " << stats_number (open, "picture-framerate") << " fps, estimate "
            << stats_number (open, "bandwidth-estimate") << " bit/s; "
            << stats_number (open, "probes-sent") << " probes, "
            << stats_number (open, "probes-found-more") << " found more" << std::endl;
  EXPECT_EQ (stats_number (thin, "picture-framerate"), 15.0) << plain (thin);
  EXPECT_EQ (stats_number (thin, "picture-width"), 320.0) << plain (thin);
  // Of 15 a second: the picture's patch of noise needs more than the 100
  // kbit/s (min-bitrate) the encoder gets even at 320x180 and 15 fps, so
  // VP8 skips some of those too (7-15 a second measured).
  EXPECT_GE (r.num ("thin-fps"), 6.0) << r.log;
  EXPECT_LE (r.num ("thin-fps"), 17.0) << r.log;
  // (The estimate probes a few % above so thin a cap between congestion
  // signals: 119-157 kbit/s measured; the 500 kbit/s test asserts below.)
  EXPECT_LT (r.num ("thin-estimate"), 1.1 * kThinKbit * 1000.0) << plain (thin);
  // The link open again: within the 45 s waited the viewer gets 24+ frames
  // a second over 5 s (the encoder back at 30 fps). Either a probe found
  // the room or the estimate's own growth above what was sent did (both
  // seen: a probe sent while the cap was still on carries nothing, and
  // the next is due only later); which one is printed, not asserted.
  EXPECT_EQ (r.num ("back"), 1.0) << plain (open) << r.log;
  EXPECT_GE (r.num ("open-fps"), 24.0) << plain (open) << r.log;
  EXPECT_EQ (stats_number (open, "picture-framerate"), 30.0) << plain (open);
}

// The adaptive playout delay (issue 11 item 1), rtcstreamsrc's default:
// with 30 +- 30 ms of delay on the way to the viewer (spread over 60 ms;
// FIFO, as a queue in a router) it rises above the jitter, its measured
// delay too, and frames keep playing; once the jitter stops it falls back
// below it. (That it stays within a few ms on a clean link is
// element-loopback's AdaptivePlayoutDelayStaysLowOnACleanLink: here, on a
// machine busy with other work, a starved sender makes its own jitter.)
// Bounded waits; what is asserted is where the target goes.
constexpr unsigned kJitterMs = 30;
bool adaptive_playout = add_check ("AdaptivePlayoutDelayFollowsTheJitter", 1, [] (Env &env) -> Body {
  Host &viewer = env.net.add_host ("vjitter");
  Link &link = env.net.link (env.producer, viewer);
  return [&env, &viewer, &link] (Record &r) {
    GstProcess sink (env.net, env.producer,
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! "
        "rtcstreamsink uri=" + env.server.uri ("cjitter") + " audiotestsrc is-live=true ! "
        "rtcstreamsink0.audio_0");
    if (!registered (sink, r))
      return;
    GstProcess src (env.net, viewer, "rtcstreamsrc name=src uri=" + env.server.uri ("cjitter") +
        " src. ! video/x-raw ! fakesink name=out sync=true src. ! audio/x-raw ! fakesink sync=true",
        {"out"});
    auto target = [&] { return stats_number (src.stats ("src"), "latency"); };
    // Polls every 250 ms, for at most `seconds`, until done (target) is true.
    // The log keeps what set each target: target/largest delay/95th
    // percentile of in-order delays, N while retransmissions are asked for.
    std::vector<double> seen;
    std::string why;
    auto until = [&] (int seconds, const std::function<bool (double)> &done) {
      for (int i = 0; i < seconds * 4; i++) {
        std::this_thread::sleep_for (std::chrono::milliseconds (250));
        const std::string stats = src.stats ("src");
        seen.push_back (stats_number (stats, "latency"));
        why += std::to_string ((int) seen.back ()) + "/" +
            std::to_string ((int) stats_number (stats, "network-delay")) + "/" +
            std::to_string ((int) stats_number (stats, "network-delay-p95")) +
            (stats.find ("retransmissions-asked=(boolean)true") != std::string::npos ? "N "
                                                                                     : " ");
        if (done (seen.back ()))
          return true;
      }
      return false;
    };
    r.n["started"] = src.wait_frames ("out", 30, 10000);
    until (2, [] (double) { return false; });  // the clean link, for the record
    // Jitter: above it, soon; what it measured too; and the video keeps playing.
    env.net.set_direction (link, env.producer, {.delay_ms = kJitterMs, .jitter_ms = kJitterMs});
    r.n["rose"] = until (10, [] (double t) { return t > kJitterMs; });
    const uint64_t before = src.frames ("out");
    until (3, [] (double) { return false; });
    r.n["target"] = target ();
    r.n["network-delay"] = stats_number (src.stats ("src"), "network-delay");
    r.n["network-delay-p95"] = stats_number (src.stats ("src"), "network-delay-p95");
    r.n["frames"] = src.frames ("out") - before;  // of 90
    // Jitter gone: back below it.
    env.net.set_direction (link, env.producer, {});
    r.n["fell"] = until (20, [] (double t) { return t < kJitterMs; });
    r.log = "targets (ms, every 250 ms; target/largest delay/p95 in order, N: NACK): " + why +
        "\n" + src.messages () + sink.messages ();
  };
});

TEST_F (Streams, AdaptivePlayoutDelayFollowsTheJitter)
{
  RECORD_OR_RETURN (r, "AdaptivePlayoutDelayFollowsTheJitter");
  ASSERT_GE (r.num ("started"), 30.0) << r.log;
  EXPECT_EQ (r.num ("rose"), 1.0) << r.log;
  EXPECT_GT (r.num ("target"), (double) kJitterMs) << r.log;
  EXPECT_GT (r.num ("network-delay"), (double) kJitterMs) << r.log;
  // Most packets come later than the jitter's mean (uniform over 60 ms).
  EXPECT_GT (r.num ("network-delay-p95"), (double) kJitterMs) << r.log;
  EXPECT_GE (r.num ("frames"), 45.0) << r.log;
  EXPECT_EQ (r.num ("fell"), 1.0) << r.log;
  std::cout << r.log << std::endl;
}

// A Chromium viewer behind a 500 kbit/s link (issue 10): the browser's own
// WebRTC stack sends the TWCC feedback, the sink's encoder follows it, and
// Chromium keeps decoding (the picture may shrink). Chromium runs inside the
// viewer's namespace (tests/netsim/chromium-viewer.mjs, the browser tests'
// harness); skipped where node, playwright-core or chromium are missing.
bool chromium_behind_500k = add_check ("AChromiumViewerBehind500kbitsKeepsPlaying", 2, [] (Env &env) -> Body {
  Host &viewer = env.net.add_host ("vchromium");
  env.net.link (env.producer, viewer, {.rate_kbit = k500Kbit});
  return [&env, &viewer] (Record &r) {
    const char *node = std::getenv ("NETSIM_NODE");
    const char *script = std::getenv ("NETSIM_CHROMIUM_VIEWER");
    if (!node || !*node || !script) {
      r.skip = "node is not installed (NETSIM_NODE is not set)";
      return;
    }
    GstProcess sink (env.net, env.producer, hd_sink (env.server, "cchromium"));
    if (!registered (sink, r))
      return;
    auto chromium = env.net.spawn (viewer, {"env", "RTCSTREAM_TEST_WATCHDOG_MS=300000", node,
        script, env.server.http (), "cchromium"});
    auto first = chromium->wait_line ([] (const std::string &l) {
      return l.rfind ("stats ", 0) == 0 || l.rfind ("skip ", 0) == 0 || l.rfind ("error ", 0) == 0;
    }, 60000);
    if (!first) {
      r.error = "no word from Chromium in 60 s";
      return;
    }
    if (first->rfind ("skip ", 0) == 0) {
      r.skip = first->substr (5);
      return;
    }
    if (first->rfind ("stats ", 0) != 0) {
      r.error = *first;
      return;
    }
    // The newest "stats" line's field, waiting until `s` s after the start.
    Timeline t;
    auto newest = [&] (int s, const std::string &field) {
      t.at (s);
      std::string line;
      for (const std::string &l : chromium->lines ())
        if (l.rfind ("stats ", 0) == 0)
          line = l;
      size_t at = line.find (" " + field + "=");
      return at == std::string::npos ? -1.0 : std::atof (line.c_str () + at + field.size () + 2);
    };
    double before = newest (25, "frames"), bytes_before = newest (25, "bytes");
    // The estimate, sampled every 3 s (one sample may stand above the cap
    // while the estimator probes).
    double mean = 0;
    std::string stats;
    for (int s = 28; s <= 40; s += 3) {
      newest (s, "frames");
      stats = sink.stats ("sink");
      mean += stats_number (stats, "bandwidth-estimate") / 5;
    }
    r.n["frames"] = newest (40, "frames") - before;
    r.n["kbit"] = kbit_per_s (newest (40, "bytes") - bytes_before, 15);
    r.n["width"] = newest (40, "width");
    r.n["height"] = newest (40, "height");
    r.n["estimate"] = mean;
    r.s["stats"] = stats;
    r.log = sink.messages ();
  };
});

TEST_F (Streams, AChromiumViewerBehind500kbitsKeepsPlaying)
{
  RECORD_OR_RETURN (r, "AChromiumViewerBehind500kbitsKeepsPlaying");
  std::cout << "Chromium behind " << k500Kbit << " kbit/s: " << r.num ("frames")
            << " frames decoded in the last 15 s at " << r.num ("width") << "x"
            << r.num ("height") << ", " << r.num ("kbit") << " kbit/s received; mean estimate "
            << r.num ("estimate") << " bit/s" << std::endl;
  EXPECT_GE (r.num ("frames"), 20.0 * 15) << r.log << r.str ("stats");
  // About the cap (the issue asks of Chromium that it keeps playing; the
  // 500 kbit/s rtcstreamsrc viewer asserts the estimate below the cap):
  // the estimate counts IP packets with an assumed header size, the cap
  // Ethernet frames, and with loss cuts no longer below what arrives it
  // sat at 56-101% of the cap behind Chromium in 7 runs.
  EXPECT_LT (r.num ("estimate"), 1.05 * k500Kbit * 1000.0) << r.str ("stats");
  EXPECT_NE (r.str ("stats").find ("transport-cc"), std::string::npos) << r.str ("stats");
}

// A cap that falls from 4 Mbit/s to 500 kbit/s mid-stream, then rises again
// (issue 10): frames keep flowing while it is low, and once it is lifted the
// bitrate the viewer receives climbs back above 1.5 Mbit/s (the encoder's
// max-bitrate is 2 Mbit/s). Climbing back takes the estimate's growth (8% a
// second once what arrives passes where the link congested) and the
// picture's steps back up (3 s apart while they hold: the shrunken picture
// sends less than it may, and the estimate grows only with what arrives):
// waited for up to 45 s.
bool cap_falls_and_rises = add_check ("ACapThatFallsAndRisesAgainIsFollowed", 3, [] (Env &env) -> Body {
  Host &viewer = env.net.add_host ("vcap");
  Link &link = env.net.link (env.producer, viewer, {.rate_kbit = 4000});
  return [&env, &viewer, &link] (Record &r) {
    GstProcess sink (env.net, env.producer, hd_sink (env.server, "ccap"));
    if (!registered (sink, r))
      return;
    // The VP8 the viewer receives is counted at `enc`, its decoded frames at `out`.
    GstProcess src (env.net, viewer, "rtcstreamsrc uri=" + env.server.uri ("ccap") +
        " ! video/x-vp8 ! identity name=enc ! vp8dec ! fakesink name=out", {"enc", "out"});
    Timeline t;
    auto received_kbit = [&] (int from, int to) {
      t.at (from);
      uint64_t before = 0, after = 0;
      src.frames ("enc", &before);
      t.at (to);
      src.frames ("enc", &after);
      return kbit_per_s (after - before, to - from);
    };
    r.n["open-kbit"] = received_kbit (5, 9);
    env.net.set_direction (link, env.producer, {.rate_kbit = 500});
    t.at (16);
    uint64_t frames_before = src.frames ("out");
    r.n["low-kbit"] = received_kbit (16, 24);
    r.n["low-frames"] = src.frames ("out") - frames_before;
    env.net.set_direction (link, env.producer, {.rate_kbit = 4000});
    double back = 0;
    int after = -1;
    for (int s = 24; s < 69 && back <= 1500; s += 3) {
      back = received_kbit (s, s + 3);
      after = s + 3 - 24;
    }
    r.n["back-kbit"] = back;
    r.n["back-after"] = after;
    r.s["stats"] = sink.stats ("sink");
    r.log = src.messages () + sink.messages ();
  };
});

TEST_F (Streams, ACapThatFallsAndRisesAgainIsFollowed)
{
  RECORD_OR_RETURN (r, "ACapThatFallsAndRisesAgainIsFollowed");
  std::cout << "4 Mbit/s: " << r.num ("open-kbit") << " kbit/s received; 500 kbit/s: "
            << r.num ("low-kbit") << " kbit/s, " << r.num ("low-frames")
            << " frames in 8 s; 4 Mbit/s again: " << r.num ("back-kbit")
            << " kbit/s in the 3 s window ending " << r.num ("back-after")
            << " s after the cap rose" << std::endl;
  // Frames keep flowing through the drop and the adaptation (19-30 fps
  // measured; 15 a second is the floor of the step down).
  EXPECT_GE (r.num ("low-frames"), 15.0 * 8) << r.log;
  EXPECT_LT (r.num ("low-kbit"), 500.0);
  EXPECT_GT (r.num ("back-kbit"), 1500.0) << r.str ("stats");
}

TEST_F (Streams, RtcstreamPlaysAcrossAnOpenLink)
{
  RECORD_OR_RETURN (r, "RtcstreamPlaysAcrossAnOpenLink");
  EXPECT_GE (r.num ("frames"), 60.0) << r.log;
  // And the media crossed the simulated link, not some other path.
  EXPECT_NE (r.str ("stats").find ("consumers=(uint)1"), std::string::npos) << r.str ("stats");
}

bool open_link = add_check ("RtcstreamPlaysAcrossAnOpenLink", 1, [] (Env &env) -> Body {
  Host &viewer = env.net.add_host ("vopen");
  env.net.link (env.producer, viewer);
  return [&env, &viewer] (Record &r) {
    GstProcess sink (env.net, env.producer,
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! "
        "rtcstreamsink uri=" + env.server.uri ("copen"));
    if (!registered (sink, r))
      return;
    GstProcess src (env.net, viewer, "rtcstreamsrc uri=" + env.server.uri ("copen") +
        " ! fakesink name=out", {"out"});
    r.n["frames"] = src.wait_frames ("out", 60, 30000);
    r.s["stats"] = sink.stats ("rtcstreamsink0");
    r.log = src.messages () + sink.messages ();
  };
});

// A link that loses every other DTLS handshake datagram, both ways
// (nftables on each end's ingress: a counter alternates over datagrams
// whose first byte says DTLS handshake or change_cipher_spec): the viewer
// still starts, and within a few seconds. GStreamer's DTLS cuts each flight
// into 256-byte datagrams and OpenSSL resends a flight whole, so before
// each handshake datagram was sent twice (session.cpp,
// send_handshake_twice) no flight ever arrived complete and the viewer had
// no keys for the whole 20 s tried (3 of 3 runs by hand; random loss of
// 5-10% did the same to a few % of sessions).
TEST_F (Streams, EveryOtherHandshakeDatagramLostStillConnects)
{
  RECORD_OR_RETURN (r, "EveryOtherHandshakeDatagramLostStillConnects");
  std::cout << "every other DTLS handshake datagram lost: " << r.num ("frames")
            << " frames in the first " << r.num ("waited") << " s; dropped by the link: "
            << r.str ("dropped") << std::endl;
  EXPECT_GE (r.num ("frames"), 30.0) << r.log;
  EXPECT_NE (r.str ("dropped").find ("packets"), std::string::npos) << r.str ("dropped");
  EXPECT_EQ (r.str ("dropped").find ("packets 0 "), std::string::npos) << r.str ("dropped");
}

bool handshake_loss = add_check ("EveryOtherHandshakeDatagramLostStillConnects", 1, [] (Env &env) -> Body {
  Host &viewer = env.net.add_host ("vdtls");
  Link &link = env.net.link (env.producer, viewer);
  // The same rule in both hosts, on their end of this link (one table each).
  const std::string table = "dtls" + link.interface ();
  for (Host *h : {&env.producer, &viewer}) {
    const std::vector<std::vector<std::string>> steps = {
      {"nft", "add", "table", "netdev", table},
      {"nft", "add", "chain", "netdev", table, "in",
          "{ type filter hook ingress device \"" + link.interface () + "\" priority -1; }"},
      {"nft", "add", "rule", "netdev", table, "in", "meta", "l4proto", "udp", "@th,64,8", "{ 20, 22 }", "numgen",
          "inc", "mod", "2", "==", "0", "counter", "drop"},
    };
    for (const auto &step : steps) {
      std::string out;
      if (env.net.run (*h, step, &out) != 0)
        throw netsim::Error ("nft failed: " + out);
    }
  }
  return [&env, &viewer, table] (Record &r) {
    GstProcess sink (env.net, env.producer,
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! "
        "rtcstreamsink uri=" + env.server.uri ("cdtls"));
    if (!registered (sink, r))
      return;
    GstProcess src (env.net, viewer, "rtcstreamsrc uri=" + env.server.uri ("cdtls") +
        " ! fakesink name=out", {"out"});
    // Up to 15 s (the sink drops a peer silent for 20 s).
    int waited_ms = 0;
    r.n["frames"] = src.wait_frames ("out", 30, 15000, &waited_ms);
    r.n["waited"] = waited_ms / 1000.0;
    std::string dropped, out;
    for (Host *h : {&env.producer, &viewer}) {
      env.net.run (*h, {"nft", "list", "table", "netdev", table}, &out);
      const size_t at = out.find ("counter ");
      dropped += h->name () + ": " +
          (at == std::string::npos ? "none" : out.substr (at, out.find (" drop", at) - at + 1));
    }
    r.s["dropped"] = dropped;
    r.log = src.messages () + sink.messages ();
  };
});

// Two viewers of one sink, one behind 400 kbit/s and one on an open link
// (issue 10, item 4: the encoding ladder): the open one keeps the
// full-resolution rendition, the capped one plays a smaller one at 24
// frames a second or more over the last 15 s of a 40 s run. Two encoders
// run (one per rendition in use), the open one's picture is the input's,
// the open one never left the full rendition, and the thin one does not
// flap between renditions.
constexpr unsigned kLadderCapKbit = 400;
bool ladder_two_viewers = add_check ("AThinViewerGetsASmallerRenditionAndTheOpenOneKeepsTheFullPicture", 3, [] (Env &env) -> Body {
  Host &thin = env.net.add_host ("vthin");
  Host &open = env.net.add_host ("vwide");
  env.net.link (env.producer, thin, {.rate_kbit = kLadderCapKbit});
  env.net.link (env.producer, open);
  return [&env, &thin, &open] (Record &r) {
    GstProcess sink (env.net, env.producer, hd_sink (env.server, "cladder"));
    if (!registered (sink, r))
      return;
    const std::string viewer = "rtcstreamsrc uri=" + env.server.uri ("cladder") +
        " ! identity name=decoded ! fakesink name=out";
    GstProcess open_view (env.net, open, viewer, {"out"});
    GstProcess thin_view (env.net, thin, viewer, {"out"});
    Timeline t;
    t.at (25);
    uint64_t open_before = open_view.frames ("out"), thin_before = thin_view.frames ("out");
    for (int s = 28, i = 0; s <= 40; s += 3, i++) {
      t.at (s);
      r.s["sample" + std::to_string (i)] = sink.stats ("sink");
    }
    r.n["open-frames"] = open_view.frames ("out") - open_before;
    r.n["thin-frames"] = thin_view.frames ("out") - thin_before;
    r.s["open-caps"] = open_view.caps ("decoded");
    r.s["thin-caps"] = thin_view.caps ("decoded");
    r.log = open_view.messages () + thin_view.messages () + sink.messages ();
  };
});

// The width in caps ("video/x-raw, width=(int)1280, ..."), 0 if none.
int
caps_width (const std::string &caps)
{
  std::vector<int> w = int_fields (caps, "width");
  return w.empty () ? 0 : w.front ();
}

TEST_F (Streams, AThinViewerGetsASmallerRenditionAndTheOpenOneKeepsTheFullPicture)
{
  RECORD_OR_RETURN (r, "AThinViewerGetsASmallerRenditionAndTheOpenOneKeepsTheFullPicture");
  const std::string open_caps = r.str ("open-caps"), thin_caps = r.str ("thin-caps");
  std::cout << "open viewer: " << r.num ("open-frames") << " frames in the last 15 s, "
            << open_caps << "\nviewer behind " << kLadderCapKbit << " kbit/s: "
            << r.num ("thin-frames") << " frames, " << thin_caps << "\nsink: "
            << plain (r.str ("sample4")) << std::endl;
  EXPECT_GE (r.num ("thin-frames"), 24.0 * 15) << r.log;
  EXPECT_GE (r.num ("open-frames"), 24.0 * 15) << r.log;
  EXPECT_EQ (caps_width (open_caps), 1280) << open_caps;
  EXPECT_GT (caps_width (thin_caps), 0) << thin_caps;
  EXPECT_LT (caps_width (thin_caps), 1280) << thin_caps;
  // Over the whole window: one viewer on the full rendition, one below it,
  // one encoder each.
  for (int i = 0; i < 5; i++) {
    const std::string s = r.str ("sample" + std::to_string (i));
    std::vector<int> renditions = int_fields (s, "rendition");
    ASSERT_EQ (renditions.size (), 2u) << plain (s);
    EXPECT_EQ (std::min (renditions[0], renditions[1]), 0) << plain (s);
    EXPECT_GT (std::max (renditions[0], renditions[1]), 0) << plain (s);
    EXPECT_EQ (stats_number (s, "encoders"), 2.0) << plain (s);
    std::vector<int> switches = int_fields (s, "rendition-switches", "uint");
    ASSERT_EQ (switches.size (), 2u) << plain (s);
    EXPECT_EQ (switches[renditions[0] == 0 ? 0 : 1], 0) << plain (s);
    // The thin one does not flap: down once or twice, a probe up that
    // fails, then the back-off (60 s) holds it.
    EXPECT_LE (switches[renditions[0] == 0 ? 1 : 0], 6) << plain (s);
  }
  EXPECT_EQ (r.log.find ("error "), std::string::npos) << r.log;
}

// Pre-encoded video cannot be re-encoded for a thin link (issue 10, item
// 5): it keeps flowing, the viewer's stats say link-too-thin, and the bus
// gets one warning for that viewer naming what the link carries.
constexpr unsigned kPreEncodedCapKbit = 400;
bool pre_encoded = add_check ("PreEncodedVideoTooBigForAViewersLinkIsSaidOnce", 2, [] (Env &env) -> Body {
  Host &viewer = env.net.add_host ("vh264");
  env.net.link (env.producer, viewer, {.rate_kbit = kPreEncodedCapKbit});
  return [&env, &viewer] (Record &r) {
    GstProcess sink (env.net, env.producer,
        "videotestsrc is-live=true pattern=smpte ! video/x-raw,width=640,height=360,framerate=30/1 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast bitrate=1200 key-int-max=60 ! "
        "video/x-h264,profile=constrained-baseline ! rtcstreamsink name=sink uri=" +
        env.server.uri ("ch264"));
    if (!registered (sink, r))
      return;
    GstProcess src (env.net, viewer, "rtcstreamsrc uri=" + env.server.uri ("ch264") +
        " ! fakesink name=out", {"out"});
    std::string stats;
    bool thin = false;
    for (int i = 0; i < 40 && !thin; i++) {
      std::this_thread::sleep_for (std::chrono::seconds (1));
      stats = sink.stats ("sink");
      thin = plain (stats).find ("link-too-thin=(boolean)true") != std::string::npos;
    }
    r.n["thin"] = thin;
    r.s["stats"] = stats;
    std::this_thread::sleep_for (std::chrono::seconds (3));
    r.s["messages"] = sink.messages ();
    r.n["sent"] = stats_number (sink.stats ("sink"), "bitrate-sent");
  };
});

TEST_F (Streams, PreEncodedVideoTooBigForAViewersLinkIsSaidOnce)
{
  RECORD_OR_RETURN (r, "PreEncodedVideoTooBigForAViewersLinkIsSaidOnce");
  const std::string stats = r.str ("stats"), messages = r.str ("messages");
  EXPECT_EQ (r.num ("thin"), 1.0) << stats << messages;
  EXPECT_GT (stats_number (stats, "pre-encoded-bitrate"), kPreEncodedCapKbit * 1000.0) << stats;
  auto count = [&] (const std::string &what) {
    size_t n = 0;
    for (size_t at = messages.find (what); at != std::string::npos; at = messages.find (what, at + 1))
      n++;
    return n;
  };
  EXPECT_EQ (count ("pre-encoded video, which rtcstreamsink cannot re-encode"), 1u) << messages;
  EXPECT_EQ (messages.find ("error "), std::string::npos) << messages;
  // It keeps flowing: the sink still sends to the viewer.
  EXPECT_GT (r.num ("sent"), 0.0);
}

// The namespaces of test process pid that exist now.
std::vector<std::string>
namespaces_of (pid_t pid)
{
  std::vector<std::string> out;
  std::string prefix = "rsim-" + std::to_string (pid) + "-";
  if (DIR *dir = opendir ("/run/netns")) {
    while (dirent *e = readdir (dir))
      if (std::string (e->d_name).rfind (prefix, 0) == 0)
        out.push_back (e->d_name);
    closedir (dir);
  }
  return out;
}

// A child process that builds a network (two hosts, a delayed link, a
// process inside), says so on a pipe, and waits to be killed. Returns its
// pid after it is ready, or -1.
pid_t
child_with_network ()
{
  int ready[2];
  if (pipe (ready) < 0)
    return -1;
  pid_t pid = fork ();
  if (pid == 0) {
    close (ready[0]);
    rlimit no_core = {0, 0};  // it is killed with SIGSEGV: no core file
    setrlimit (RLIMIT_CORE, &no_core);
    try {
      Network n;
      Host &a = n.add_host ("a");
      Host &b = n.add_host ("b");
      n.link (a, b, {.delay_ms = 10});
      auto p = n.spawn (b, {"sleep", "600"});
      if (write (ready[1], "x", 1) != 1)
        _exit (1);
      pause ();
    } catch (...) {
    }
    _exit (1);
  }
  close (ready[1]);
  char c;
  bool ok = read (ready[0], &c, 1) == 1;
  close (ready[0]);
  if (!ok) {
    waitpid (pid, nullptr, 0);
    return -1;
  }
  return pid;
}

using NetsimCleanup = NetsimAvailable;

TEST_F (NetsimCleanup, AFatalSignalDeletesTheNamespaces)
{
  for (int sig : {SIGTERM, SIGSEGV}) {
    pid_t pid = child_with_network ();
    ASSERT_GT (pid, 0);
    EXPECT_EQ (namespaces_of (pid).size (), 3u);  // a, b and the link's
    kill (pid, sig);
    int status = 0;
    waitpid (pid, &status, 0);
    EXPECT_TRUE (WIFSIGNALED (status) && WTERMSIG (status) == sig);
    EXPECT_TRUE (namespaces_of (pid).empty ()) << "after signal " << sig;
  }
}

TEST_F (NetsimCleanup, TheNextNetworkDeletesWhatAKilledTestLeft)
{
  pid_t pid = child_with_network ();
  ASSERT_GT (pid, 0);
  kill (pid, SIGKILL);  // no handler runs
  waitpid (pid, nullptr, 0);
  EXPECT_EQ (namespaces_of (pid).size (), 3u);
  Network next;
  EXPECT_TRUE (namespaces_of (pid).empty ());
}

TEST_F (NetsimCleanup, TheDestructorDeletesTheNamespaces)
{
  {
    Network n;
    Host &a = n.add_host ("a");
    n.link (a, n.add_host ("b"));
    EXPECT_EQ (namespaces_of (getpid ()).size (), 3u);
  }
  EXPECT_TRUE (namespaces_of (getpid ()).empty ());
}

}  // namespace
