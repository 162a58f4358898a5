// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The encoding ladder on shaped links (issue 10, item 4): two viewers of one
// rtcstreamsink, one behind a thin link and one on an open link. The thin
// one's estimate must not lower the open one's picture, and the thin one
// must keep playing on a smaller rendition.
#include "netsim.h"
#include "peers.h"

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <thread>

using netsim::GstProcess;
using netsim::Host;
using netsim::Network;
using netsim::SignallingServer;
using netsim::stats_number;
using Clock = std::chrono::steady_clock;

namespace {

// A stats string without the escaping of nested structures.
std::string
plain (const std::string &stats)
{
  std::string out;
  for (char c : stats)
    if (c != '\\')
      out += c;
  return out;
}

// Every value of an int (or uint) field in a stats string, in order.
std::vector<int>
int_fields (const std::string &stats, const std::string &field, const char *type = "int")
{
  std::vector<int> out;
  const std::string text = plain (stats), key = field + "=(" + type + ")";
  for (size_t at = text.find (key); at != std::string::npos; at = text.find (key, at + 1)) {
    if (at > 0 && text[at - 1] != ' ' && text[at - 1] != ',')
      continue;  // the end of a longer name
    out.push_back (std::stoi (text.substr (at + key.size ())));
  }
  return out;
}

// The width in caps ("video/x-raw, width=(int)1280, ..."), 0 if none.
int
caps_width (const std::string &caps)
{
  std::vector<int> w = int_fields (caps, "width");
  return w.empty () ? 0 : w.front ();
}

class Ladder : public ::testing::Test {
protected:
  void SetUp () override
  {
    std::string why = Network::unavailable ();
    if (!why.empty ())
      GTEST_SKIP () << why;
    net = std::make_unique<Network> ();
    producer = &net->add_host ("producer");
  }

  std::unique_ptr<Network> net;
  Host *producer = nullptr;
};

// Two viewers of one sink, one behind 400 kbit/s and one on an open link:
// the open one keeps the full-resolution rendition, the capped one plays a
// smaller one at 24 frames a second or more over the last 15 s of a 40 s
// run. Two encoders run (one per rendition in use), the open one's picture
// is the input's, the open one never left the full rendition, and the thin
// one does not flap between renditions.
TEST_F (Ladder, AThinViewerGetsASmallerRenditionAndTheOpenOneKeepsTheFullPicture)
{
  constexpr unsigned kCapKbit = 400;
  Host &thin = net->add_host ("thin");
  Host &open = net->add_host ("open");
  net->link (*producer, thin, {.rate_kbit = kCapKbit});
  net->link (*producer, open);
  SignallingServer server (*net, *producer);
  ASSERT_TRUE (server.ok ());
  GstProcess sink (*net, *producer,
      "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1 ! "
      "rtcstreamsink name=sink uri=" + server.uri ("cam"));
  ASSERT_TRUE (sink.wait_registered (20000)) << sink.messages ();
  const std::string viewer = "rtcstreamsrc uri=" + server.uri ("cam") +
      " ! identity name=decoded ! fakesink name=out";
  GstProcess open_view (*net, open, viewer, {"out"});
  GstProcess thin_view (*net, thin, viewer, {"out"});
  auto start = Clock::now ();
  auto at = [&] (int s) { std::this_thread::sleep_until (start + std::chrono::seconds (s)); };
  at (25);
  uint64_t open_before = open_view.frames ("out"), thin_before = thin_view.frames ("out");
  std::vector<std::string> samples;
  for (int s = 28; s <= 40; s += 3) {
    at (s);
    samples.push_back (sink.stats ("sink"));
  }
  uint64_t open_frames = open_view.frames ("out") - open_before;
  uint64_t thin_frames = thin_view.frames ("out") - thin_before;
  std::string open_caps = open_view.caps ("decoded"), thin_caps = thin_view.caps ("decoded");
  const std::string &stats = samples.back ();
  std::cout << "open viewer: " << open_frames << " frames in the last 15 s, " << open_caps
            << "\nviewer behind " << kCapKbit << " kbit/s: " << thin_frames << " frames, "
            << thin_caps << "\nsink: " << plain (stats) << std::endl;

  EXPECT_GE (thin_frames, 24u * 15) << thin_view.messages () << sink.messages ();
  EXPECT_GE (open_frames, 24u * 15) << open_view.messages () << sink.messages ();
  EXPECT_EQ (caps_width (open_caps), 1280) << open_caps;
  EXPECT_GT (caps_width (thin_caps), 0) << thin_caps;
  EXPECT_LT (caps_width (thin_caps), 1280) << thin_caps;
  // Over the whole window: one viewer on the full rendition, one below it,
  // one encoder each.
  for (const std::string &s : samples) {
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
  EXPECT_EQ (sink.messages ().find ("error "), std::string::npos) << sink.messages ();
}

}  // namespace
