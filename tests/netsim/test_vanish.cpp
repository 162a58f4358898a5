// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Viewers whose network vanishes (issue 12, item 6): viewers on a host
// whose link goes down stop answering without a word (no FIN, no RST, no
// "bye" through the server); the producer must notice by itself, drop
// them and give back what they held, while a viewer on another link keeps
// its 30 fps. The short version of the churn benchmark's kind "vanished"
// (bench/churn.sh covers clean leaves, Ctrl-C and SIGKILL on loopback).
#include "netsim.h"
#include "peers.h"

#include "churn.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

using netsim::GstProcess;
using netsim::Network;
using netsim::SignallingServer;
using netsim::stats_number;
using rtcstream::test::ProcessSample;
using rtcstream::test::sample_process;
using Clock = std::chrono::steady_clock;

namespace {

TEST (NetsimVanish, ViewersWhoseNetworkVanishesAreDroppedAndTheOthersPlayOn)
{
  std::string why = Network::unavailable ();
  if (!why.empty ())
    GTEST_SKIP () << why;
  Network net;
  netsim::Host &producer = net.add_host ("producer");
  netsim::Host &steady = net.add_host ("steady");
  netsim::Host &mobile = net.add_host ("mobile");
  net.link (producer, steady);
  netsim::Link &mobile_link = net.link (producer, mobile);
  SignallingServer server (net, producer);
  ASSERT_TRUE (server.ok ());
  GstProcess sink (net, producer,
      "videotestsrc is-live=true ! video/x-raw,width=640,height=360,framerate=30/1 ! "
      "rtcstreamsink name=sink uri=" + server.uri ("cam"));
  ASSERT_TRUE (sink.wait_registered (20000)) << sink.messages ();
  GstProcess kept (net, steady, "rtcstreamsrc uri=" + server.uri ("cam") + " ! fakesink name=out",
      {"out"});
  auto consumers = [&] { return stats_number (sink.stats ("sink"), "consumers"); };
  // Waits up to timeout_s for pred, sampling the kept viewer's frames each
  // second into fps.
  std::vector<double> fps;
  uint64_t last_frames = 0;
  auto last_at = Clock::now ();
  auto wait_for = [&] (const std::function<bool ()> &pred, int timeout_s) {
    auto end = Clock::now () + std::chrono::seconds (timeout_s);
    while (Clock::now () < end) {
      if (pred ())
        return true;
      std::this_thread::sleep_until (last_at + std::chrono::seconds (1));
      uint64_t f = kept.frames ("out");
      auto now = Clock::now ();
      if (last_frames)
        fps.push_back ((f - last_frames) / std::chrono::duration<double> (now - last_at).count ());
      last_frames = f;
      last_at = now;
    }
    return pred ();
  };
  ASSERT_TRUE (wait_for ([&] { return kept.frames ("out") > 30; }, 20)) << kept.messages ();
  ASSERT_TRUE (wait_for ([&] { return consumers () == 1; }, 5)) << sink.stats ("sink");
  wait_for ([] { return false; }, 2);  // settled
  const ProcessSample before = sample_process (sink.process ().pid ());
  fps.clear ();

  // Three viewers on the mobile host get video, then its link goes down.
  constexpr int kVanishing = 3;
  std::vector<std::unique_ptr<GstProcess>> gone;
  for (int i = 0; i < kVanishing; i++)
    gone.push_back (std::make_unique<GstProcess> (net, mobile,
        "rtcstreamsrc uri=" + server.uri ("cam") + " ! fakesink name=out", std::vector<std::string>{"out"}));
  for (auto &v : gone)
    ASSERT_TRUE (wait_for ([&] { return v->frames ("out") > 10; }, 30)) << v->messages ();
  ASSERT_TRUE (wait_for ([&] { return consumers () == 1 + kVanishing; }, 5))
      << sink.stats ("sink");
  net.down (mobile_link);
  const auto vanished_at = Clock::now ();
  // The producer hears nothing more from them: no RTCP, no bye. It drops
  // them once they are silent for the session's limit (20 s).
  bool dropped = wait_for ([&] { return consumers () == 1; }, 45);
  const double took = std::chrono::duration<double> (Clock::now () - vanished_at).count ();
  std::cout << kVanishing << " vanished viewers dropped after " << took << " s" << std::endl;
  EXPECT_TRUE (dropped) << sink.stats ("sink");
  // The sink said why, as a warning, not an error.
  EXPECT_NE (sink.messages ().find ("silent"), std::string::npos) << sink.messages ();
  EXPECT_EQ (sink.messages ().find ("error "), std::string::npos) << sink.messages ();
  // The viewers are gone for good (they are killed before the link comes
  // back, so nothing they left behind can answer again).
  for (auto &v : gone)
    v->process ().stop (1000);
  gone.clear ();
  net.up (mobile_link);

  // What they held is given back: the producer's threads and fds return
  // (within what one more second of settling allows).
  ProcessSample after;
  wait_for ([&] {
    after = sample_process (sink.process ().pid ());
    return after.threads <= before.threads + 2 && after.fds <= before.fds + 2;
  }, 15);
  std::cout << "producer before: " << before.threads << " threads, " << before.fds
            << " fds, " << before.rss_kb << " kB; after: " << after.threads << " threads, "
            << after.fds << " fds, " << after.rss_kb << " kB" << std::endl;
  EXPECT_LE (after.threads, before.threads + 2);
  EXPECT_LE (after.fds, before.fds + 2);

  // The kept viewer played on throughout: the mean of every 3 consecutive
  // one-second windows at least 24 fps (30 sent; the churn test's bound).
  std::ostringstream list;
  double worst = INFINITY;
  for (size_t i = 0; i < fps.size (); i++) {
    list << std::lround (fps[i]) << " ";
    if (i + 3 <= fps.size ())
      worst = std::min (worst, (fps[i] + fps[i + 1] + fps[i + 2]) / 3);
  }
  std::cout << "kept viewer fps: " << list.str () << std::endl;
  EXPECT_GE (worst, 24 - 1.0 / 3) << list.str ();
  EXPECT_EQ (kept.messages ().find ("error "), std::string::npos) << kept.messages ();
}

}  // namespace
