// SPDX-License-Identifier: LGPL-2.1-or-later
//
// EncoderScaler: the picture size for a bitrate, driven with synthetic
// encoder output, once a (simulated) second.
#include "rtcstream/scaling.h"

#include <gtest/gtest.h>

using rtcstream::EncoderScaler;

namespace {

constexpr int64_t kS = 1000000;

// A content whose encoder needs `need_bps` at full size, and a quarter as
// much per quarter of the pixels; below that it drops frames, as VP8 does
// when told to keep its bitrate.
struct Encoder {
  double need_bps;
  // Feeds the scaler for `seconds` at target_bps; returns the last step.
  size_t run (EncoderScaler &s, uint32_t target_bps, int seconds, int64_t &t)
  {
    for (int i = 0; i < seconds; i++, t += kS) {
      EncoderScaler::Size size = s.size ();
      double full = 1280.0 * 720;
      double need = need_bps * size.width * size.height / full;
      double share = std::min (1.0, target_bps / need);
      s.update (target_bps, (uint32_t) std::min<double> (target_bps, need), share, t);
    }
    return s.step ();
  }
};

TEST (EncoderScaler, StepsFromTheInputsSizeDownToAQuarter)
{
  EncoderScaler s (1280, 720, 30);
  ASSERT_EQ (s.steps (), 6u);  // 5 sizes, then the smallest at half the frame rate
  EXPECT_EQ (s.size ().width, 1280);
  EXPECT_EQ (s.size ().height, 720);
  EXPECT_EQ (s.divisor (), 1);
  EXPECT_EQ (s.floor_bps (0), 829440u);  // 0.03 bit per pixel and frame
  // At least 5000 bits a frame: 150 kbit/s at 30 fps, 75 at 15.
  EXPECT_EQ (s.floor_bps (4), 150000u);
  EXPECT_EQ (s.floor_bps (5), 75000u);
  // No step under 160 pixels wide: 400, 266 and 200; then 200 at 15 fps.
  EncoderScaler small (400, 224, 30);
  EXPECT_EQ (small.steps (), 4u);
  // An unknown frame rate is not stepped.
  EXPECT_EQ (EncoderScaler (400, 224, 0).steps (), 3u);
}

TEST (EncoderScaler, ABitrateTooLowForTheSmallestSizeHalvesTheFrameRateAndBack)
{
  EncoderScaler s (1280, 720, 30);
  int64_t t = 0;
  for (int i = 0; i < 12; i++, t += kS)
    s.update (110000, 0, 1, t);  // under every size's floor at 30 fps, every 2 s
  EXPECT_EQ (s.size ().width, 320);
  EXPECT_EQ (s.divisor (), 2);
  EXPECT_DOUBLE_EQ (s.fps (), 15);
  // The link gets better: 30 fps again (1.25 times 150 kbit/s), the size
  // next.
  s.update (200000, 0, 1, t += 3 * kS);
  EXPECT_EQ (s.divisor (), 1);
  EXPECT_EQ (s.size ().width, 320);
}

TEST (EncoderScaler, ABitrateUnderTheFloorStepsDownEveryTwoSeconds)
{
  EncoderScaler s (1280, 720, 30);
  int64_t t = 0;
  EXPECT_TRUE (s.update (300000, 0, 1, t));  // 720p needs 830 kbit/s: 854x480
  EXPECT_EQ (s.size ().width, 854);
  EXPECT_FALSE (s.update (300000, 0, 1, t += kS));  // not again within 2 s
  EXPECT_TRUE (s.update (300000, 0, 1, t += kS));   // 640x360 (floor 207 k)
  EXPECT_EQ (s.size ().width, 640);
  EXPECT_FALSE (s.update (300000, 0, 1, t += 2 * kS));  // 300 k is enough for it
  EXPECT_EQ (s.step (), 2u);
}

TEST (EncoderScaler, DroppedFramesStepDownUntilTheContentFits)
{
  // Noisy content: 2 Mbit/s at 720p, so 640x360 needs 500 k, 426x240 222 k.
  Encoder enc {2000000};
  EncoderScaler s (1280, 720, 30);
  int64_t t = 0;
  EXPECT_EQ (enc.run (s, 400000, 20, t), 3u);  // 640x360 keeps 80% of the frames: down
  // It stays there while the bitrate does.
  EXPECT_EQ (enc.run (s, 400000, 60, t), 3u);
}

TEST (EncoderScaler, StepsUpOnlyOnceTheBitrateCoversWhatTheBiggerSizeNeeded)
{
  Encoder enc {2000000};
  EncoderScaler s (1280, 720, 30);
  int64_t t = 0;
  enc.run (s, 400000, 20, t);
  ASSERT_EQ (s.step (), 3u);
  // 550 k: above 640x360's floor (207 k) but not 1.25 times what it showed
  // it needed (400 k for 80% of the frames: 500 k): no step up, no flapping.
  EXPECT_EQ (enc.run (s, 550000, 30, t), 3u);
  // 700 k: one step up, and no further (854x480 needs ~890 k).
  EXPECT_EQ (enc.run (s, 700000, 30, t), 2u);
  // Plenty: back to the full size, one step per 3 s at most while they hold.
  EXPECT_EQ (enc.run (s, 4000000, 1, t), 1u);
  EXPECT_EQ (enc.run (s, 4000000, 2, t), 1u);
  EXPECT_EQ (enc.run (s, 4000000, 1, t), 0u);
}

TEST (EncoderScaler, AStepUpThatFailsDoublesTheWaitBeforeTheNext)
{
  EncoderScaler s (1280, 720, 30);
  int64_t t = 0;
  auto tick = [&] (uint32_t target, double share) { return s.update (target, 0, share, t += kS); };
  ASSERT_TRUE (tick (300000, 1));  // 854x480
  tick (300000, 1);
  ASSERT_TRUE (tick (300000, 1));  // 640x360
  ASSERT_EQ (s.step (), 2u);
  // The link got faster: up after 3 s, but the bigger picture drops frames
  // (the content needs more than the floor said): down again.
  int n = 0;
  while (s.step () == 2 && n++ < 10)
    tick (700000, 1);
  ASSERT_EQ (s.step (), 1u);
  tick (700000, 0.5);  // the second after the change: not counted
  tick (700000, 0.5);
  ASSERT_EQ (s.step (), 1u);
  tick (700000, 0.5);
  ASSERT_EQ (s.step (), 2u);
  // 640x360 keeps every frame: the next try waits 6 s, not 3.
  int waited = 0;
  while (s.step () == 2 && waited < 20) {
    tick (2000000, 1);
    waited++;
  }
  EXPECT_EQ (waited, 6);
}

// 100 kbit/s, under any size's floor at 30 fps: down to 15 fps; then, 3 s
// later, `bps` steps back up to 30 fps. Whether it did.
bool
back_to_30_fps (EncoderScaler &s, int64_t &t, uint32_t bps)
{
  for (int i = 0; i < 30 && s.divisor () == 1; i++)
    s.update (100000, 0, 1, t += kS);
  if (s.divisor () != 2)
    return false;
  t += 3 * kS;
  return s.update (bps, 0, 1, t) && s.divisor () == 1;
}

// A step from 15 to 30 fps: the first second's frames, counted at the new
// rate, are half of what is expected (the caller's count mixes both
// rates), and under load the next second's are short too. The first is
// not taken as frames dropped, so one short second does not undo the
// step: it holds, and what 30 fps needs is not learnt as twice the bitrate
// (netsim's thin-link check stayed at 15 fps with ten times the bitrate it
// needed).
TEST (EncoderScaler, TheSecondAfterAChangeIsNotTakenAsFramesDropped)
{
  EncoderScaler s (1280, 720, 30);
  int64_t t = 0;
  ASSERT_TRUE (back_to_30_fps (s, t, 2000000));  // the link opened
  // Half the frames counted at 30 fps, then (a loaded machine: the new
  // caps took a while) 70%, then all.
  s.update (2000000, 0, 0.5, t += kS);
  s.update (2000000, 0, 0.7, t += kS);
  s.update (2000000, 0, 1, t += kS);
  s.update (2000000, 0, 1, t += kS);
  EXPECT_EQ (s.divisor (), 1);
}

// An encoder that starves right after a step up (VP8 after 15 -> 30 fps
// at ~200-320 kbit/s put out 7% of the frames for three seconds): the
// step fails, and what it is taken to need is at most twice the bitrate it
// had, not 1/0.07 of it, so a link with a few times that (netsim: the cap
// lifted, 2 Mbit/s) gets the step back within a minute.
TEST (EncoderScaler, AStarvedStepUpIsNotTakenToNeedManyTimesItsBitrate)
{
  EncoderScaler s (1280, 720, 30);
  int64_t t = 0;
  ASSERT_TRUE (back_to_30_fps (s, t, 200000));  // the floor at 30 fps is 150 k
  s.update (320000, 0, 0.5, t += kS);  // the second after the change
  s.update (320000, 0, 0.07, t += kS);
  s.update (320000, 0, 0.07, t += kS);
  ASSERT_EQ (s.divisor (), 2);  // the step failed
  // At 15 fps every frame; the link allows 1 Mbit/s (over 1.25 times twice
  // 320 k): 30 fps again once the doubled wait (6 s) is over.
  int waited = 0;
  while (s.divisor () == 2 && waited < 60) {
    s.update (1000000, 0, 1, t += kS);
    waited++;
  }
  EXPECT_EQ (s.divisor (), 1);
  EXPECT_LE (waited, 6);
}

TEST (EncoderScaler, AnEncoderOverItsBitrateStepsDownToo)
{
  // An encoder that cannot drop frames (x264) overshoots instead.
  EncoderScaler s (640, 360, 30);
  int64_t t = 0;
  for (int i = 0; i < 3; i++, t += kS)
    s.update (300000, 480000, 1, t);
  EXPECT_EQ (s.step (), 1u);
}

TEST (EncoderScaler, StartsAtTheBiggestSizeItsBitrateCarries)
{
  // Nothing learnt yet: the floors decide. 1 Mbit/s carries 720p (830 k).
  EncoderScaler open (1280, 720, 30);
  EXPECT_FALSE (open.start ({}, 0, 1000000, 0));
  EXPECT_EQ (open.step (), 0u);
  // 300 k does not carry 854x480 (369 k) but 640x360 (207 k): there at
  // once, not one step each 2 s after a start at 720p.
  EncoderScaler thin (1280, 720, 30);
  EXPECT_TRUE (thin.start ({}, 0, 300000, 0));
  EXPECT_EQ (thin.size ().width, 640);
  EXPECT_EQ (thin.size ().height, 360);
}

TEST (EncoderScaler, ANewViewersScalerStartsFromWhatTheLastOneLearnt)
{
  // Content whose 720p costs 1.5 Mbit/s: at 1 Mbit/s the first viewer's
  // encoder drops a third of its frames until its scaler steps down.
  Encoder enc {1500000};
  EncoderScaler first (1280, 720, 30);
  EXPECT_FALSE (first.start ({}, 0, 1000000, 0));
  int64_t t = 0;
  EXPECT_EQ (enc.run (first, 1000000, 4, t), 1u);
  ASSERT_GT (first.needs ()[0], 1000000.0);
  // The next viewer's, a minute later: 854x480 from the start, and it stays
  // there (720p would need 1.25 times what it showed).
  EncoderScaler next (1280, 720, 30);
  EXPECT_TRUE (next.start (first.needs (), 60, 1000000, t));
  EXPECT_EQ (next.step (), 1u);
  EXPECT_EQ (enc.run (next, 1000000, 20, t), 1u);
  // What was learnt fades as it does while a scaler runs (by half in ~6
  // min): an hour later the floors decide again.
  EncoderScaler later (1280, 720, 30);
  EXPECT_FALSE (later.start (first.needs (), 3600, 1000000, t));
  EXPECT_EQ (later.step (), 0u);
  // What another scaler learnt with other steps is not taken.
  EncoderScaler other (1280, 720, 0);  // unknown frame rate: no frame-rate step
  EXPECT_FALSE (other.start (first.needs (), 0, 1000000, t));
}

}  // namespace
