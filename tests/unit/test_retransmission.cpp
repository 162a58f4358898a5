// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RetransmissionBudget (gst/rtcstream/retransmission.h): which NACKed
// packets the sender resends. Time is passed in: deterministic, instant.
#include "rtcstream/retransmission.h"

#include <gtest/gtest.h>

#include <map>

using rtcstream::RetransmissionBudget;
using Verdict = rtcstream::RetransmissionBudget::Verdict;

namespace {

constexpr int64_t kMs = 1000, kS = 1000000;
constexpr uint32_t kSsrc = 0x1234, kBytes = 1200;

TEST (RetransmissionBudget, ResendsAPacketItSentAndCountsItsBytes)
{
  RetransmissionBudget b;
  b.set_link (2000000, 40);
  b.on_sent (kSsrc, 7, kBytes, 0);
  EXPECT_EQ (b.on_request (kSsrc, 7, 50 * kMs), Verdict::Send);
  EXPECT_EQ (b.bps (60 * kMs), (kBytes + RetransmissionBudget::kRtxHeaderBytes) * 8);
  EXPECT_EQ (b.resent (), 1u);
  EXPECT_EQ (b.dropped (), 0u);
  // Counted over one second.
  EXPECT_EQ (b.bps (1100 * kMs), 0u);
}

TEST (RetransmissionBudget, AnUnknownPacketIsNotResent)
{
  RetransmissionBudget b;
  b.set_link (2000000, 40);
  b.on_sent (kSsrc, 7, kBytes, 0);
  EXPECT_EQ (b.on_request (kSsrc, 8, 10 * kMs), Verdict::Unknown);
  EXPECT_EQ (b.on_request (kSsrc + 1, 7, 10 * kMs), Verdict::Unknown);
  // Overwritten by a newer packet in the same slot (2048 later).
  b.on_sent (kSsrc, 7 + 2048, kBytes, 20 * kMs);
  EXPECT_EQ (b.on_request (kSsrc, 7, 30 * kMs), Verdict::Unknown);
  EXPECT_EQ (b.dropped (), 3u);
}

TEST (RetransmissionBudget, APacketIsResentAtMostOncePerHalfRoundTrip)
{
  RetransmissionBudget b;
  b.set_link (2000000, 300);  // a queue made the round trip long
  b.on_sent (kSsrc, 1, kBytes, 0);
  EXPECT_EQ (b.on_request (kSsrc, 1, 20 * kMs), Verdict::Send);
  // Chromium asks again every ~20 ms (its round trip before the queue).
  for (int64_t t = 40; t < 170; t += 20)
    EXPECT_EQ (b.on_request (kSsrc, 1, t * kMs), Verdict::TooSoon) << t;
  EXPECT_EQ (b.on_request (kSsrc, 1, 180 * kMs), Verdict::Send);
  EXPECT_EQ (b.resent (), 2u);
}

TEST (RetransmissionBudget, APacketTooOldToBeUsedIsNotResent)
{
  RetransmissionBudget b;
  b.set_link (2000000, 40);
  b.on_sent (kSsrc, 1, kBytes, 0);
  b.on_sent (kSsrc, 2, kBytes, 0);
  EXPECT_EQ (b.on_request (kSsrc, 1, 1100 * kMs), Verdict::TooOld);
  // Three round trips when they are longer than a second.
  b.set_link (2000000, 500);
  EXPECT_EQ (b.on_request (kSsrc, 2, 1400 * kMs), Verdict::Send);
}

// The collapse this prevents: a 500 kbit/s link, full, the receiver asking
// for each of 200 lost packets (of the last 400 ms) every 20 ms, 10 times. What is resent stays
// within its share of the estimate over every second, and no packet goes
// out twice within half a round trip.
TEST (RetransmissionBudget, AStormOfRequestsStaysWithinItsShareOfTheEstimate)
{
  RetransmissionBudget b;
  const uint32_t estimate = 500000;
  b.set_link (estimate, 100);
  for (uint16_t seq = 0; seq < 200; seq++)
    b.on_sent (kSsrc, seq, kBytes, seq * 2 * kMs);
  std::map<uint16_t, int64_t> last;
  uint32_t most = 0;
  for (int round = 0; round < 10; round++) {
    for (uint16_t seq = 0; seq < 200; seq++) {
      int64_t now = 400 * kMs + round * 20 * kMs;
      if (b.on_request (kSsrc, seq, now) != Verdict::Send)
        continue;
      if (last.count (seq)) {
        EXPECT_GE (now - last[seq], 50 * kMs) << seq;
      }
      last[seq] = now;
      most = std::max (most, b.bps (now));
    }
  }
  EXPECT_LE (most, RetransmissionBudget::kShare * estimate);
  EXPECT_GT (b.resent (), 0u);
  EXPECT_LT (b.resent (), 2000u / 10);
}

TEST (RetransmissionBudget, TheBudgetFollowsTheEstimate)
{
  RetransmissionBudget b;
  const uint32_t thin = (uint32_t) (25000 / RetransmissionBudget::kShare);
  b.set_link (thin, 40);  // 25 kbit/s of retransmissions: 2 packets
  for (uint16_t seq = 0; seq < 10; seq++)
    b.on_sent (kSsrc, seq, kBytes, 0);
  EXPECT_EQ (b.on_request (kSsrc, 0, 10 * kMs), Verdict::Send);
  EXPECT_EQ (b.on_request (kSsrc, 1, 10 * kMs), Verdict::Send);
  EXPECT_EQ (b.on_request (kSsrc, 2, 10 * kMs), Verdict::OverBudget);
  b.set_link (1000000, 40);
  EXPECT_EQ (b.on_request (kSsrc, 2, 20 * kMs), Verdict::Send);
  // A second later the first ones no longer count.
  b.set_link (thin, 40);
  EXPECT_EQ (b.on_request (kSsrc, 3, 20 * kMs), Verdict::OverBudget);
  b.on_sent (kSsrc, 3, kBytes, 1000 * kMs);  // (sent again: not too old)
  EXPECT_EQ (b.on_request (kSsrc, 3, 1015 * kMs), Verdict::Send);
}

// What a probe may copy: the largest packets first sent recently, newest
// first among equals; reading them changes neither the budget nor its counters.
TEST (RetransmissionBudget, RecentPacketsAreTheLargestYoungOnes)
{
  RetransmissionBudget b;
  b.set_link (1000000, 40);
  b.on_sent (kSsrc, 1, 1200, 0);             // too old by then
  b.on_sent (kSsrc, 2, 300, 800 * kMs);      // audio-sized
  b.on_sent (kSsrc, 3, 1100, 850 * kMs);
  b.on_sent (kSsrc + 1, 4, 1100, 900 * kMs);
  b.on_sent (kSsrc, 5, 900, 950 * kMs);
  auto r = b.recent (1000 * kMs, 300 * kMs, 3);
  ASSERT_EQ (r.size (), 3u);
  EXPECT_EQ (r[0].seq, 4);
  EXPECT_EQ (r[0].ssrc, kSsrc + 1);
  EXPECT_EQ (r[1].seq, 3);
  EXPECT_EQ (r[2].seq, 5);
  EXPECT_EQ (b.recent (1000 * kMs, 300 * kMs, 10).size (), 4u);
  EXPECT_EQ (b.requests (), 0u);
  EXPECT_EQ (b.bps (1000 * kMs), 0u);
  // Still requested as before.
  EXPECT_EQ (b.on_request (kSsrc, 3, 1000 * kMs), Verdict::Send);
}

}  // namespace
