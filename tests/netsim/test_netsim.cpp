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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <thread>

using netsim::GstProcess;
using netsim::Host;
using netsim::Link;
using netsim::LinkConfig;
using netsim::Network;
using netsim::SignallingServer;
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

  // TCP throughput from `from` to `to` over link, in kbit/s, measured at the
  // receiver from 1 s to `seconds` after the start.
  double tcp_kbit (Host &from, Host &to, Link &link, int seconds)
  {
    int listener = net->socket (to, AF_INET, SOCK_STREAM);
    int one = 1;
    setsockopt (listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in at = address_of (link.address (to), kPort);
    EXPECT_EQ (bind (listener, (sockaddr *) &at, sizeof at), 0);
    listen (listener, 1);
    int sender = net->socket (from, AF_INET, SOCK_STREAM);
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
    std::vector<char> buf (65536);
    timeval tv = {0, 200000};
    setsockopt (receiver, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (Clock::now () < end) {
      ssize_t n = recv (receiver, buf.data (), buf.size (), 0);
      auto now = Clock::now ();
      if (n > 0 && now > start + std::chrono::seconds (1) && now <= end)
        counted += (uint64_t) n;
      if (n == 0)
        break;
    }
    send_thread.join ();
    for (int fd : {listener, sender, receiver})
      close (fd);
    return kbit_per_s (counted, seconds - 1);
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
    while (Clock::now () < end + std::chrono::milliseconds (500)) {
      ssize_t n = recv (rx, buf.data (), buf.size (), 0);
      if (n <= 0)
        continue;
      received++;
      auto now = Clock::now ();
      if (now > start + std::chrono::seconds (1) && now <= end)
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
  double tcp = tcp_kbit (*producer, *viewer, l, 4);
  double udp = udp_kbit (*producer, *viewer, l, 4000, 4);
  std::cout << "measured through a 2000 kbit/s cap: TCP " << tcp << " kbit/s, UDP " << udp
            << " kbit/s" << std::endl;
  // Payload under a 2000 kbit/s cap on frames: headers take ~4%. The
  // receiving thread's timing on a loaded machine moves TCP's by a few %.
  EXPECT_GT (tcp, 1600);
  EXPECT_LT (tcp, 2200);
  EXPECT_GT (udp, 1600);
  EXPECT_LT (udp, 2100);
  // The cap is per direction: the other way is open.
  net->set_direction (l, *producer, {.rate_kbit = 500});
  EXPECT_LT (udp_kbit (*producer, *viewer, l, 1500, 3), 530);
  EXPECT_GT (udp_kbit (*viewer, *producer, l, 1500, 3), 1300);
}

TEST_F (Netsim, LossDropsAboutTheConfiguredShare)
{
  Link &l = net->link (*producer, *viewer);
  net->set_direction (l, *producer, {.loss_pct = 10});
  unsigned sent = 0, received = 0;
  udp_kbit (*producer, *viewer, l, 4800, 3, &sent, &received);  // 500 datagrams/s
  ASSERT_GT (sent, 1000u);
  double lost = 1.0 - (double) received / sent;
  std::cout << "measured at 10% loss: " << sent - received << " of " << sent << " lost"
            << std::endl;
  EXPECT_GT (lost, 0.07);
  EXPECT_LT (lost, 0.13);
  // The other direction is not lossy.
  udp_kbit (*viewer, *producer, l, 4800, 2, &sent, &received);
  EXPECT_EQ (received, sent);
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

TEST_F (Netsim, RtcstreamPlaysAcrossAnOpenLink)
{
  net->link (*producer, *viewer);
  SignallingServer server (*net, *producer);
  ASSERT_TRUE (server.ok ()) << "rtcstream-signalling did not start in the producer namespace";
  GstProcess sink (*net, *producer,
      "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! "
      "rtcstreamsink uri=" + server.uri ("cam"));
  ASSERT_TRUE (sink.wait_registered (20000)) << sink.messages ();
  GstProcess src (*net, *viewer, "rtcstreamsrc uri=" + server.uri ("cam") +
      " ! fakesink name=out", {"out"});
  uint64_t frames = 0;
  for (int i = 0; i < 60 && frames < 60; i++) {
    std::this_thread::sleep_for (std::chrono::milliseconds (500));
    frames = src.frames ("out");
  }
  EXPECT_GE (frames, 60u) << src.messages () << sink.messages ();
  // And the media crossed the simulated link, not some other path.
  std::string stats = sink.stats ("rtcstreamsink0");
  EXPECT_NE (stats.find ("consumers=(uint)1"), std::string::npos) << stats;
}

// The adaptive playout delay (issue 11 item 1), rtcstreamsrc's default:
// with 30 +- 30 ms of delay on the way to the viewer (spread over 60 ms;
// FIFO, as a queue in a router) it rises above the jitter, its measured
// delay too, and frames keep playing; once the jitter stops it falls back
// below it. (That it stays within a few ms on a clean link is
// element-loopback's AdaptivePlayoutDelayStaysLowOnACleanLink: here, on a
// machine busy with other work, a starved sender makes its own jitter.)
// Bounded waits; what is asserted is where the target goes.
TEST_F (Netsim, AdaptivePlayoutDelayFollowsTheJitter)
{
  constexpr unsigned kJitterMs = 30;
  Link &link = net->link (*producer, *viewer);
  SignallingServer server (*net, *producer);
  ASSERT_TRUE (server.ok ());
  GstProcess sink (*net, *producer,
      "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! "
      "rtcstreamsink uri=" + server.uri ("cam") + " audiotestsrc is-live=true ! "
      "rtcstreamsink0.audio_0");
  ASSERT_TRUE (sink.wait_registered (20000)) << sink.messages ();
  GstProcess src (*net, *viewer, "rtcstreamsrc name=src uri=" + server.uri ("cam") +
      " src. ! video/x-raw ! fakesink name=out sync=true src. ! audio/x-raw ! fakesink sync=true",
      {"out"});
  auto target = [&] { return stats_number (src.stats ("src"), "latency"); };
  // Polls every 250 ms, for at most `seconds`, until done (target) is true.
  std::vector<double> seen;
  auto until = [&] (int seconds, const std::function<bool (double)> &done) {
    for (int i = 0; i < seconds * 4; i++) {
      std::this_thread::sleep_for (std::chrono::milliseconds (250));
      seen.push_back (target ());
      if (done (seen.back ()))
        return true;
    }
    return false;
  };
  auto history = [&] {
    std::string h;
    for (double t : seen)
      h += std::to_string ((int) t) + " ";
    return "targets (ms, every 250 ms): " + h + "\n" + src.messages () + sink.messages ();
  };
  for (int i = 0; i < 40 && src.frames ("out") < 30; i++)
    std::this_thread::sleep_for (std::chrono::milliseconds (250));
  ASSERT_GE (src.frames ("out"), 30u) << src.messages () << sink.messages ();
  until (2, [] (double) { return false; });  // the clean link, for the record

  // Jitter: above it, soon; what it measured too; and the video keeps playing.
  net->set_direction (link, *producer, {.delay_ms = kJitterMs, .jitter_ms = kJitterMs});
  EXPECT_TRUE (until (10, [] (double t) { return t > kJitterMs; })) << history ();
  const uint64_t before = src.frames ("out");
  until (3, [] (double) { return false; });
  EXPECT_GT (target (), (double) kJitterMs) << history ();
  EXPECT_GT (stats_number (src.stats ("src"), "network-delay"), (double) kJitterMs) << history ();
  EXPECT_GE (src.frames ("out") - before, 45u) << history ();  // of 90

  // Jitter gone: back below it.
  net->set_direction (link, *producer, {});
  EXPECT_TRUE (until (20, [] (double t) { return t < kJitterMs; })) << history ();
  std::cout << history () << std::endl;
}

// Congestion control (issue 10): a 1280x720 30 fps stream behind a 500
// kbit/s link. Without it the viewer decodes nothing at all (see
// docs/performance.md); with it, the sink's encoder follows the viewer's
// bandwidth estimate and shrinks the picture until it fits. Over the last
// 15 s of a 40 s run the viewer gets at least 24 frames a second, and the
// estimate stays below the cap.
TEST_F (Netsim, AViewerBehind500kbitsKeepsPlaying)
{
  constexpr unsigned kCapKbit = 500;
  net->link (*producer, *viewer, {.rate_kbit = kCapKbit});
  SignallingServer server (*net, *producer);
  ASSERT_TRUE (server.ok ());
  // With audio, which keeps flowing: the video's share leaves room for it.
  GstProcess sink (*net, *producer,
      "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1 ! "
      "rtcstreamsink name=sink uri=" + server.uri ("cam") +
      " audiotestsrc is-live=true wave=ticks ! sink.audio_0");
  ASSERT_TRUE (sink.wait_registered (20000)) << sink.messages ();
  GstProcess src (*net, *viewer, "rtcstreamsrc name=src uri=" + server.uri ("cam") +
      " src.video_0 ! fakesink name=out src.audio_0 ! fakesink name=sound", {"out", "sound"});
  auto start = Clock::now ();
  auto at = [&] (int s) { std::this_thread::sleep_until (start + std::chrono::seconds (s)); };
  at (25);
  uint64_t before = src.frames ("out");
  uint64_t sound_before = 0, sound_after = 0;
  src.frames ("sound", &sound_before);
  std::vector<double> estimates;
  std::string stats;
  for (int s = 28; s <= 40; s += 3) {
    at (s);
    stats = sink.stats ("sink");
    estimates.push_back (stats_number (stats, "bandwidth-estimate"));
  }
  uint64_t after = src.frames ("out");
  src.frames ("sound", &sound_after);
  double mean = 0;
  for (double e : estimates)
    mean += e / estimates.size ();
  // Decoded audio: 48 kHz, 2 channels (rtcstreamsrc's Opus decoder), S16.
  double sound_s = (sound_after - sound_before) / (48000.0 * 2 * 2);
  std::cout << "behind " << kCapKbit << " kbit/s: " << after - before << " frames in the last "
            << "15 s, mean estimate " << mean << " bit/s, " << sound_s << " s of sound" << std::endl;
  EXPECT_GE (after - before, 24u * 15) << src.messages () << sink.messages ();
  EXPECT_GE (sound_s, 14.0) << src.caps ("sound") << src.messages ();
  EXPECT_LT (mean, kCapKbit * 1000.0);
  EXPECT_GT (mean, 0.0) << stats;
  EXPECT_NE (stats.find ("transport-cc"), std::string::npos) << stats;
  EXPECT_GT (stats_number (stats, "bitrate-target"), 0.0) << stats;
}

// A cap that falls from 4 Mbit/s to 500 kbit/s mid-stream, then rises again
// (issue 10): frames keep flowing while it is low, and once it is lifted the
// bitrate the viewer receives climbs back above 1.5 Mbit/s (the encoder's
// max-bitrate is 2 Mbit/s).
TEST_F (Netsim, ACapThatFallsAndRisesAgainIsFollowed)
{
  Link &link = net->link (*producer, *viewer, {.rate_kbit = 4000});
  SignallingServer server (*net, *producer);
  ASSERT_TRUE (server.ok ());
  GstProcess sink (*net, *producer,
      "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1 ! "
      "rtcstreamsink name=sink uri=" + server.uri ("cam"));
  ASSERT_TRUE (sink.wait_registered (20000)) << sink.messages ();
  // The VP8 the viewer receives is counted at `enc`, its decoded frames at `out`.
  GstProcess src (*net, *viewer, "rtcstreamsrc uri=" + server.uri ("cam") +
      " ! video/x-vp8 ! identity name=enc ! vp8dec ! fakesink name=out", {"enc", "out"});
  auto start = Clock::now ();
  auto at = [&] (int s) { std::this_thread::sleep_until (start + std::chrono::seconds (s)); };
  auto received_kbit = [&] (int from, int to) {
    at (from);
    uint64_t before = 0, after = 0;
    src.frames ("enc", &before);
    at (to);
    src.frames ("enc", &after);
    return kbit_per_s (after - before, to - from);
  };
  double open_kbit = received_kbit (6, 10);
  net->set_direction (link, *producer, {.rate_kbit = 500});
  at (20);
  uint64_t frames_before = src.frames ("out");
  double low_kbit = received_kbit (20, 30);
  uint64_t low_frames = src.frames ("out") - frames_before;
  net->set_direction (link, *producer, {.rate_kbit = 4000});
  // Then 3 s windows until the bitrate is back above 1.5 Mbit/s, for 60 s at
  // most. Growing by 8% a second, the estimate needs ~15 s from 500 kbit/s
  // to 1.5 Mbit/s; but it stays within 1.5 times what arrives, and the
  // encoder of a shrunken picture sends less than it is allowed (the noisy
  // picture needs little at 320x180), so the picture must grow back step by
  // step (at most every 10 s) for the bitrate to follow: 25-45 s measured,
  // more on a busy machine.
  double back_kbit = 0;
  int back_after = -1;
  for (int s = 30; s < 90 && back_kbit <= 1500; s += 3) {
    back_kbit = received_kbit (s, s + 3);
    back_after = s + 3 - 30;
  }
  std::cout << "4 Mbit/s: " << open_kbit << " kbit/s received; 500 kbit/s: " << low_kbit
            << " kbit/s, " << low_frames << " frames in 10 s; 4 Mbit/s again: " << back_kbit
            << " kbit/s in the 3 s window ending " << back_after << " s after the cap rose"
            << std::endl;
  EXPECT_GE (low_frames, 20u * 10) << src.messages () << sink.messages ();
  EXPECT_LT (low_kbit, 500.0);
  EXPECT_GT (back_kbit, 1500.0) << sink.stats ("sink");
}

// A Chromium viewer behind a 500 kbit/s link (issue 10): the browser's own
// WebRTC stack sends the TWCC feedback, the sink's encoder follows it, and
// Chromium keeps decoding (the picture may shrink). Chromium runs inside the
// viewer's namespace (tests/netsim/chromium-viewer.mjs, the browser tests'
// harness); skipped where node, playwright-core or chromium are missing.
TEST_F (Netsim, AChromiumViewerBehind500kbitsKeepsPlaying)
{
  const char *node = std::getenv ("NETSIM_NODE");
  const char *script = std::getenv ("NETSIM_CHROMIUM_VIEWER");
  if (!node || !*node || !script)
    GTEST_SKIP () << "node is not installed (NETSIM_NODE is not set)";
  constexpr unsigned kCapKbit = 500;
  net->link (*producer, *viewer, {.rate_kbit = kCapKbit});
  SignallingServer server (*net, *producer);
  ASSERT_TRUE (server.ok ());
  GstProcess sink (*net, *producer,
      "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1 ! "
      "rtcstreamsink name=sink uri=" + server.uri ("cam"));
  ASSERT_TRUE (sink.wait_registered (20000)) << sink.messages ();
  auto chromium = net->spawn (*viewer, {"env", "RTCSTREAM_TEST_WATCHDOG_MS=300000", node, script,
      server.http (), "cam"});
  auto first = chromium->wait_line ([] (const std::string &l) {
    return l.rfind ("stats ", 0) == 0 || l.rfind ("skip ", 0) == 0 || l.rfind ("error ", 0) == 0;
  }, 60000);
  ASSERT_TRUE (first) << "no word from Chromium in 60 s";
  if (first->rfind ("skip ", 0) == 0)
    GTEST_SKIP () << first->substr (5);
  ASSERT_EQ (first->rfind ("stats ", 0), 0u) << *first;
  // The newest "stats" line's field, waiting until `t` s after the start.
  auto start = Clock::now ();
  auto newest = [&] (int t, const std::string &field) {
    std::this_thread::sleep_until (start + std::chrono::seconds (t));
    std::string line;
    for (const std::string &l : chromium->lines ())
      if (l.rfind ("stats ", 0) == 0)
        line = l;
    size_t at = line.find (" " + field + "=");
    return at == std::string::npos ? -1.0 : std::atof (line.c_str () + at + field.size () + 2);
  };
  double before = newest (25, "frames");
  double bytes_before = newest (25, "bytes");
  // The estimate, sampled every 3 s (one sample may stand above the cap
  // while the estimator probes).
  double mean = 0;
  std::string stats;
  for (int t = 28; t <= 40; t += 3) {
    newest (t, "frames");
    stats = sink.stats ("sink");
    mean += stats_number (stats, "bandwidth-estimate") / 5;
  }
  double after = newest (40, "frames");
  double bytes_after = newest (40, "bytes");
  std::cout << "Chromium behind " << kCapKbit << " kbit/s: " << after - before
            << " frames decoded in the last 15 s at " << newest (40, "width") << "x"
            << newest (40, "height") << ", " << kbit_per_s (bytes_after - bytes_before, 15)
            << " kbit/s received; mean estimate " << mean << " bit/s" << std::endl;
  EXPECT_GE (after - before, 20.0 * 15) << sink.messages () << stats;
  EXPECT_LT (mean, kCapKbit * 1000.0) << stats;
  EXPECT_NE (stats.find ("transport-cc"), std::string::npos) << stats;
}

// Random loss on a link with 40 ms of round trip (issue 10): 5% of the
// packets lost in each direction, and the viewer still decodes at least 97%
// of the frames the camera made (30 per second) once the stream has
// settled: retransmissions repair what is lost (the receiver waits long
// enough for them: with a fixed latency of 50 ms it decoded ~50%), and the
// loss alone does not make the sender starve the stream. Then 10% (below).
TEST_F (Netsim, RandomLossWith40msRoundTripLosesAlmostNoFrame)
{
  Link &link = net->link (*producer, *viewer, {.loss_pct = 5, .delay_ms = 20});
  SignallingServer server (*net, *producer);
  ASSERT_TRUE (server.ok ());
  GstProcess sink (*net, *producer,
      "videotestsrc is-live=true ! video/x-raw,width=640,height=360,framerate=30/1 ! "
      "rtcstreamsink name=sink uri=" + server.uri ("cam"));
  ASSERT_TRUE (sink.wait_registered (20000)) << sink.messages ();
  GstProcess src (*net, *viewer, "rtcstreamsrc name=src uri=" + server.uri ("cam") +
      " ! fakesink name=out", {"out"});
  auto start = Clock::now ();
  auto at = [&] (int s) { std::this_thread::sleep_until (start + std::chrono::seconds (s)); };
  // Frames decoded from `from` to `to` s, as a share of the camera's.
  auto decoded_share = [&] (int from, int to, double loss) {
    at (from);
    uint64_t before = src.frames ("out");
    at (to);
    uint64_t decoded = src.frames ("out") - before;
    double share = decoded / (30.0 * (to - from));
    std::string stats = sink.stats ("sink");
    std::cout << loss << "% loss, 40 ms round trip: " << decoded << " frames decoded in "
              << to - from << " s (" << 100 * share << "% of the camera's), sent "
              << stats_number (stats, "bitrate-sent") << " bit/s, estimate "
              << stats_number (stats, "bandwidth-estimate") << " bit/s; receiver: "
              << src.stats ("src") << std::endl;
    return share;
  };
  // The first seconds go to ICE and DTLS, whose lost packets are resent
  // after timeouts of their own; the window starts when the stream runs.
  EXPECT_GE (decoded_share (12, 24, 5), 0.97) << src.messages () << sink.messages ();
  net->set_link (link, {.loss_pct = 10, .delay_ms = 20});
  // Not yet the 97% at 10%: 86-98% measured. The receiver repairs
  // what it gets (97-100% over 12 s right after the change), but at 10%
  // random loss the measured loss stands above the loss controller's 10%
  // threshold half of the time, the estimate keeps falling, and the picture
  // steps down with a keyframe each time. Asserted here: no collapse (63%
  // before the playout target left room for more than one retransmission).
  EXPECT_GE (decoded_share (28, 40, 10), 0.80) << src.messages () << sink.messages ();
}

// Pre-encoded video cannot be re-encoded for a thin link (issue 10, item
// 5): it keeps flowing, the viewer's stats say link-too-thin, and the bus
// gets one warning for that viewer naming what the link carries.
TEST_F (Netsim, PreEncodedVideoTooBigForAViewersLinkIsSaidOnce)
{
  constexpr unsigned kCapKbit = 400;
  net->link (*producer, *viewer, {.rate_kbit = kCapKbit});
  SignallingServer server (*net, *producer);
  ASSERT_TRUE (server.ok ());
  GstProcess sink (*net, *producer,
      "videotestsrc is-live=true pattern=smpte ! video/x-raw,width=640,height=360,framerate=30/1 ! "
      "x264enc tune=zerolatency speed-preset=ultrafast bitrate=1200 key-int-max=60 ! "
      "video/x-h264,profile=constrained-baseline ! rtcstreamsink name=sink uri=" +
      server.uri ("cam"));
  ASSERT_TRUE (sink.wait_registered (20000)) << sink.messages ();
  GstProcess src (*net, *viewer, "rtcstreamsrc uri=" + server.uri ("cam") +
      " ! fakesink name=out", {"out"});
  std::string stats;
  bool thin = false;
  for (int i = 0; i < 40 && !thin; i++) {
    std::this_thread::sleep_for (std::chrono::seconds (1));
    stats = sink.stats ("sink");
    std::string plain;  // a consumer's stats are a structure inside, escaped
    for (char c : stats)
      if (c != '\\')
        plain += c;
    thin = plain.find ("link-too-thin=(boolean)true") != std::string::npos;
  }
  EXPECT_TRUE (thin) << stats << sink.messages ();
  EXPECT_GT (stats_number (stats, "pre-encoded-bitrate"), kCapKbit * 1000.0) << stats;
  std::this_thread::sleep_for (std::chrono::seconds (3));
  const std::string messages = sink.messages ();
  auto count = [&] (const std::string &what) {
    size_t n = 0;
    for (size_t at = messages.find (what); at != std::string::npos; at = messages.find (what, at + 1))
      n++;
    return n;
  };
  EXPECT_EQ (count ("pre-encoded video, which rtcstreamsink cannot re-encode"), 1u) << messages;
  EXPECT_EQ (messages.find ("error "), std::string::npos) << messages;
  // It keeps flowing: the sink still sends to the viewer.
  EXPECT_GT (stats_number (sink.stats ("sink"), "bitrate-sent"), 0.0);
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
