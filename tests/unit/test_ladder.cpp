// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The encoding ladder (parse_ladder, make_ladder) and one viewer's rendition
// (RenditionChooser), driven with a simulated link once a (simulated) second.
#include "rtcstream/ladder.h"

#include <gtest/gtest.h>

using rtcstream::LadderRung;
using rtcstream::make_ladder;
using rtcstream::parse_ladder;
using rtcstream::Rendition;
using rtcstream::RenditionChooser;

namespace {

constexpr int64_t kS = 1000000;

TEST (Ladder, DefaultIsFullHalfAndQuarterWithThePixelsShareOfMaxBitrate)
{
  std::vector<LadderRung> rungs;
  std::string error;
  ASSERT_TRUE (parse_ladder ("", &rungs, &error)) << error;
  std::vector<Rendition> l = make_ladder (rungs, 1280, 720, 100000, 2000000);
  ASSERT_EQ (l.size (), 3u);
  EXPECT_EQ (l[0].width, 1280);
  EXPECT_EQ (l[0].height, 720);
  EXPECT_EQ (l[0].bps, 2000000u);
  EXPECT_EQ (l[1].width, 640);
  EXPECT_EQ (l[1].height, 360);
  EXPECT_EQ (l[1].bps, 500000u);
  EXPECT_EQ (l[2].width, 320);
  EXPECT_EQ (l[2].height, 180);
  EXPECT_EQ (l[2].bps, 125000u);
}

TEST (Ladder, SmallInputsGetFewerRungsAndBitratesStayInBounds)
{
  std::vector<LadderRung> rungs;
  std::string error;
  ASSERT_TRUE (parse_ladder ("1:5000000,2,3:1000", &rungs, &error)) << error;
  std::vector<Rendition> l = make_ladder (rungs, 480, 270, 100000, 2000000);
  ASSERT_EQ (l.size (), 3u);
  EXPECT_EQ (l[0].bps, 2000000u);  // capped by max-bitrate
  EXPECT_EQ (l[1].width, 240);
  EXPECT_EQ (l[1].height, 136);  // even
  EXPECT_EQ (l[2].bps, 100000u);  // raised to min-bitrate
  EXPECT_EQ (make_ladder (rungs, 320, 240, 100000, 2000000).size (), 2u);  // 106 px: too small
  ASSERT_TRUE (parse_ladder ("1", &rungs, &error));
  EXPECT_EQ (make_ladder (rungs, 1280, 720, 100000, 2000000).size (), 1u);
}

TEST (Ladder, BadSpecsAreRefusedWithTheReason)
{
  std::vector<LadderRung> rungs;
  std::string error;
  for (const char *bad : {"2,4", "1,4,2", "1,x", "1:abc", "1,,2", "1,17", "1:1e6", "1,2:"}) {
    EXPECT_FALSE (parse_ladder (bad, &rungs, &error)) << bad;
    EXPECT_FALSE (error.empty ()) << bad;
  }
}

const std::vector<uint32_t> kRungs = {2000000, 500000, 125000};

// A viewer behind a link of `capacity` video bit/s: its estimate (as the
// estimator gives it) can exceed neither 1.5 times what it receives nor
// the link; it shows congestion when what it is sent exceeds the link.
struct Viewer {
  explicit Viewer (double link_bps) : capacity (link_bps) {}
  double capacity;
  double estimate = 1000000;
  RenditionChooser chooser;
  size_t run (int seconds, int64_t &t, int *switches = nullptr)
  {
    size_t last = chooser.rendition ();
    for (int i = 0; i < seconds; i++, t += kS) {
      double sent = kRungs[chooser.rendition ()];
      bool congested = sent > capacity;
      double received = std::min (sent, capacity);
      estimate = congested ? 0.85 * received : std::min (estimate * 1.08, 1.5 * received);
      uint32_t cap = congested || capacity < 1e8 ? (uint32_t) capacity : 0;
      size_t r = chooser.update (kRungs, (uint32_t) estimate, congested, cap, t);
      if (switches && r != last)
        ++*switches;
      last = r;
    }
    return chooser.rendition ();
  }
};

TEST (RenditionChooser, AnOpenLinkKeepsTheFullPicture)
{
  Viewer v (1e9);
  int64_t t = kS;
  int switches = 0;
  // Its estimate (1 Mbit/s at first) lags, but its link shows no congestion.
  EXPECT_EQ (v.run (140, t, &switches), 0u);
  EXPECT_EQ (switches, 0);
}

TEST (RenditionChooser, AThinLinkStepsDownAndProbesRarely)
{
  Viewer v (300000);
  int64_t t = kS;
  v.run (1, t);
  EXPECT_EQ (v.run (5, t), 2u);
  int switches = 0;
  // Its link's capacity says the half picture does not fit: a probe only
  // after the back-off, and each failed one doubles it.
  v.run (600, t, &switches);
  EXPECT_EQ (v.chooser.rendition (), 2u);
  EXPECT_LE (switches, 2 * 4);  // probes at about 60, 120, 240, 480 s
  EXPECT_GE (switches, 2);
}

TEST (RenditionChooser, AViewerWhoseLinkCongestedBeforeStartsWhereItFits)
{
  RenditionChooser c (0);
  EXPECT_EQ (c.update (kRungs, 300000, false, 350000, 0), 2u);
  RenditionChooser d (2);
  EXPECT_EQ (d.update (kRungs, 1000000, false, 0, 0), 2u);  // unknown: stays
}

TEST (RenditionChooser, AnOpenLinkClimbsBackFromTheSmallestRendition)
{
  Viewer v (1e9);
  v.chooser = RenditionChooser (2);
  int64_t t = kS;
  EXPECT_EQ (v.run (30, t), 0u);  // two probes, each 5 s apart at least
}

TEST (RenditionChooser, ALaggingEstimateOnAQuietLinkDoesNotStepDown)
{
  RenditionChooser c;
  int64_t t = 0;
  EXPECT_EQ (c.update (kRungs, 1800000, false, 0, t), 0u);
  for (int i = 0; i < 30; i++)
    EXPECT_EQ (c.update (kRungs, 900000, false, 0, t += kS), 0u);
  // With congestion it steps down to what fits.
  EXPECT_EQ (c.update (kRungs, 450000, true, 500000, t += kS), 1u);
}

// The estimator may forget where the link congested (it resets that when
// the viewer receives well above it): a probe that failed still makes the
// next ones wait for the back-off.
TEST (RenditionChooser, AFailedProbeWaitsForTheBackOffEvenWhenTheCapacityIsForgotten)
{
  RenditionChooser c (2);
  int64_t t = 0;
  c.update (kRungs, 150000, false, 0, t);
  int probes = 0;
  for (int i = 0; i < 600; i++) {
    t += kS;
    bool up = c.rendition () < 2;
    // Behind 300 kbit/s: the half picture congests at once.
    size_t r = c.update (kRungs, up ? 250000 : 150000, up, 0, t);
    if (r < 2 && !up)
      probes++;
  }
  EXPECT_LE (probes, 6);  // 5 s, then 60, 120, 240, 480 s apart
  EXPECT_GE (probes, 2);
}

TEST (RenditionChooser, ALinkThatGrowsIsFoundByProbing)
{
  Viewer v (300000);
  int64_t t = kS;
  v.run (10, t);
  EXPECT_EQ (v.chooser.rendition (), 2u);
  v.capacity = 1e9;
  EXPECT_EQ (v.run (150, t), 0u);
}

}  // namespace
