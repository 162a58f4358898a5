// SPDX-License-Identifier: LGPL-2.1-or-later
//
// SendPace (gst/rtcstream/send-pace.cpp): the age at which a session sends
// live frames, fed the ages an encoder gives them at 30 fps.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "rtcstream/send-pace.h"

using rtcstream::SendPace;

namespace {

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kFrame = 33 * kMs;

}  // namespace

TEST (SendPace, NothingHeldBeforeTheFirstFrame)
{
  SendPace p;
  EXPECT_EQ (p.hold (), 0u);
  p.frame (0, 10 * kMs);
  EXPECT_EQ (p.hold (), 11 * kMs);
}

// A steady encoder: frames leave 1 ms after it is done, not a frame later.
TEST (SendPace, ASteadyEncoderIsHeldOnlyTheMargin)
{
  SendPace p;
  for (int i = 0; i < 90; i++)
    p.frame (i * kFrame, 12 * kMs);
  EXPECT_EQ (p.hold (), 13 * kMs);
}

// A busy encoder, 8-30 ms a frame: the hold covers 95% of the frames, so
// that the receiver sees the rare slow one only, not the spread.
TEST (SendPace, ASpreadIsCoveredAtItsNinetyFifthPercentile)
{
  SendPace p;
  std::mt19937 rng (7);
  std::uniform_int_distribution<uint64_t> took (8, 30);
  uint64_t now = 0;
  for (int i = 0; i < 300; i++, now += kFrame)
    p.frame (now, took (rng) * kMs);
  EXPECT_GE (p.hold (), 28 * kMs);
  EXPECT_LE (p.hold (), 32 * kMs);
  // One slow frame in a hundred moves nothing.
  for (int i = 0; i < 100; i++, now += kFrame)
    p.frame (now, (i == 50 ? 200 : 10) * kMs);
  EXPECT_EQ (p.hold (), 11 * kMs);
}

// Load comes and goes: the hold rises with it and falls back 2 s after.
TEST (SendPace, FollowsTheEncoderWithinTwoSeconds)
{
  SendPace p;
  uint64_t now = 0;
  for (int i = 0; i < 90; i++, now += kFrame)
    p.frame (now, 10 * kMs);
  for (int i = 0; i < 90; i++, now += kFrame)
    p.frame (now, 25 * kMs);
  EXPECT_EQ (p.hold (), 26 * kMs);
  for (int i = 0; i < 30; i++, now += kFrame)
    p.frame (now, 10 * kMs);
  EXPECT_EQ (p.hold (), 26 * kMs) << "1 s later the slow frames are still most of the window";
  for (int i = 0; i < 40; i++, now += kFrame)
    p.frame (now, 10 * kMs);
  EXPECT_EQ (p.hold (), 11 * kMs);
}
