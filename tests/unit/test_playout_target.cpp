// SPDX-License-Identifier: LGPL-2.1-or-later
//
// PlayoutTarget (gst/rtcstream/playout-target.cpp), the adaptive playout
// delay of rtcstreamsrc, fed simulated streams: 30 fps video in 3 packets
// per frame at 90 kHz and 50 packets/s of audio at 48 kHz, through a link
// with a fixed delay, jitter (uniform, FIFO as netsim's delay line, or
// reordering) and clock drift.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <random>

#include "rtcstream/playout-target.h"

using rtcstream::PlayoutTarget;

namespace {

constexpr int64_t kMs = PlayoutTarget::kMs;

struct Link {
  int64_t delay = 10 * kMs;
  int64_t jitter = 0;       // uniform in +-jitter
  bool reorder = false;
  double drift_ppm = 0;     // the sender's clock runs slow by this much
  int video_packets = 3;    // a frame's
  // A sender starved of CPU: the first video frame of every stall_every is
  // sent stall later (in order, as everything on this link).
  int64_t stall_every = 0;
  int64_t stall = 0;
};

// Sends from `from` to `to` (sender time, ns) through link into target;
// returns the highest target seen.
class Sim {
public:
  explicit Sim (PlayoutTarget &t) : t_ (t) {}

  unsigned
  run (int64_t from, int64_t to, const Link &link, int64_t ticks_every = 1000 * kMs)
  {
    unsigned highest = 0;
    int64_t next_tick = from;
    for (int64_t now = from; now < to; now += kMs) {
      // The sender: a video frame every 33.3 ms (3 packets), audio every 20 ms.
      for (; next_video_ <= now; next_video_ += 1000 * kMs / 30) {
        const bool stalled =
            link.stall_every && next_video_ % link.stall_every < 1000 * kMs / 30;
        for (int i = 0; i < link.video_packets; i++)
          send (1, now + (stalled ? link.stall : 0), next_video_, 90000, link);
      }
      for (; next_audio_ <= now; next_audio_ += 20 * kMs)
        send (2, now, next_audio_, 48000, link);
      // The receiver.
      while (!queue_.empty () && queue_.front ().arrival <= now) {
        const Packet p = queue_.front ();
        queue_.pop_front ();
        t_.packet (p.ssrc, p.arrival, p.seq, p.ts, p.rate);
      }
      if (now >= next_tick) {
        t_.update (now);
        next_tick = now + ticks_every;
      }
      highest = std::max (highest, t_.target_ms ());
    }
    return highest;
  }

private:
  struct Packet {
    int64_t arrival;
    uint32_t ssrc, ts, rate;
    uint16_t seq;
  };

  void
  send (uint32_t ssrc, int64_t now, int64_t capture, uint32_t rate, const Link &link)
  {
    // The sender's clock, drifting, and a timestamp that wraps early on.
    const double sender_ns = capture * (1.0 - link.drift_ppm / 1e6);
    const uint32_t ts = (uint32_t) (0xfff00000u + (uint64_t) (sender_ns * rate / 1e9));
    int64_t arrival = now + link.delay;
    if (link.jitter)
      arrival += std::uniform_int_distribution<int64_t> (-link.jitter, link.jitter) (rng_);
    if (!link.reorder)
      arrival = std::max (arrival, last_arrival_);
    last_arrival_ = arrival;
    Packet p{arrival, ssrc, ts, rate, seq_[ssrc]++};
    auto at = std::upper_bound (queue_.begin (), queue_.end (), p,
        [] (const Packet &a, const Packet &b) { return a.arrival < b.arrival; });
    queue_.insert (at, p);
  }

  PlayoutTarget &t_;
  std::deque<Packet> queue_;
  int64_t last_arrival_ = 0;
  int64_t next_video_ = 0, next_audio_ = 0;
  std::map<uint32_t, uint16_t> seq_;
  std::mt19937 rng_{42};
};

}  // namespace

// A clean link: the target stays within a few ms of nothing.
TEST (PlayoutTarget, CleanLinkStaysLow)
{
  PlayoutTarget t (0, 1000);
  Sim sim (t);
  sim.run (0, 10000 * kMs, {});
  EXPECT_LE (t.target_ms (), 4u);
  EXPECT_LE (t.delay_ms (10000 * kMs), 1u);
}

// A stream's first second does not count: its first frames left sooner
// after their capture than the later ones (a sender still starting).
TEST (PlayoutTarget, FirstSecondIgnored)
{
  PlayoutTarget t (0, 1000);
  for (int64_t ms = 0; ms < 4000; ms += 33) {
    const int64_t transit = (ms < 100 ? 10 : 40) * kMs;  // the first 3 frames 30 ms sooner
    t.packet (1, ms * kMs + transit, (uint16_t) (ms / 33), (uint32_t) (ms * 90), 90000);
    t.update (ms * kMs + transit);
  }
  EXPECT_LE (t.target_ms (), 4u);
}

// Under jitter the target rises above the spread of the delays (2 x the
// jitter, uniform in +-jitter) at once, and falls back within a few seconds
// after the jitter stops.
TEST (PlayoutTarget, FollowsJitterUpAndDown)
{
  PlayoutTarget t (0, 1000);
  Sim sim (t);
  sim.run (0, 3000 * kMs, {});
  const unsigned clean = t.target_ms ();
  EXPECT_LE (clean, 4u);

  // 30 ms of jitter: up within the first half second.
  sim.run (3000 * kMs, 3500 * kMs, {.jitter = 30 * kMs});
  EXPECT_GT (t.target_ms (), 30u);
  sim.run (3500 * kMs, 13000 * kMs, {.jitter = 30 * kMs});
  const unsigned jittery = t.target_ms ();
  EXPECT_GT (jittery, 60u);   // the largest delay is close to 2 x 30 ms
  EXPECT_LT (jittery, 120u);  // and not much more
  EXPECT_GE (t.delay_ms (13000 * kMs), 50u);

  // Jitter gone: back down once the window forgot it, and the floor the
  // early packets of the jitter made (5 s).
  sim.run (13000 * kMs, 23000 * kMs, {});
  EXPECT_LE (t.target_ms (), 4u);
}

// A packet overtaken by others counts by how late it is.
TEST (PlayoutTarget, Reordering)
{
  PlayoutTarget t (0, 1000);
  Sim sim (t);
  sim.run (0, 5000 * kMs, {.jitter = 10 * kMs, .reorder = true});
  EXPECT_GT (t.target_ms (), 20u);
  EXPECT_LT (t.target_ms (), 60u);
}

// A sender starved of CPU a moment every second (one 720p frame, 7
// packets, 40 ms late, in order, and the packets queued behind it less):
// the frame comes late
// but is not lost (a jitterbuffer pushes a packet that comes in order at
// once), so the target covers most packets, not these: it stays low, and
// NACK is not safe (the jitterbuffer would give the late frame up). Once
// retransmissions are needed, NACK is on and the target leaves room for
// one, still not for the bursts.
TEST (PlayoutTarget, InOrderBurstsDoNotSetTheTarget)
{
  PlayoutTarget t (0, 1000);
  Sim sim (t);
  const Link starved{.video_packets = 7, .stall_every = 1000 * kMs, .stall = 40 * kMs};
  const unsigned highest = sim.run (0, 10000 * kMs, starved, 250 * kMs);
  EXPECT_GE (t.delay_ms (10000 * kMs), 38u);  // seen
  // What the stall's followers kept (the next frame, the audio: 7 ms).
  EXPECT_LE (t.in_order_delay_ms (10000 * kMs), 8u);
  EXPECT_LT (t.target_ms (), 20u);  // the largest delay would make it 62
  EXPECT_LT (highest, 20u);
  EXPECT_FALSE (t.nack_safe (10000 * kMs));

  t.retransmissions (10000 * kMs, 0, 0);
  t.retransmissions (10250 * kMs, 2, 20 * kMs);
  EXPECT_TRUE (t.retransmitting (10250 * kMs));
  EXPECT_TRUE (t.nack_safe (10250 * kMs));
  // Room for a retransmission (a frame interval for the gap to show, the
  // round trip, 10 ms), not for the bursts: with NACK for gaps only
  // (rtcstreamsrc turns rtx-next-seqnum off), an in-order packet that comes
  // late is not given up on either.
  const unsigned with_nack = t.update (10250 * kMs);
  EXPECT_GE (with_nack, 63u);   // 33 + 20 + 10
  EXPECT_LT (with_nack, 100u);  // covering the 40 ms bursts too (and in each attempt): 170+
}

// NACK is safe only while retransmissions are needed: not on a clean link,
// nor under in-order jitter, whose late packets a jitterbuffer with NACK
// would give up on; or with a floor set that covers every packet.
TEST (PlayoutTarget, NackOnlyWhileRetransmissionsAreNeeded)
{
  PlayoutTarget t (0, 1000);
  Sim sim (t);
  int64_t at = 0;
  for (const Link &link : {Link{}, Link{.jitter = 30 * kMs}}) {
    sim.run (at, at + 5000 * kMs, link);
    at += 5000 * kMs;
    t.retransmissions (at, 0, 0);
    EXPECT_FALSE (t.nack_safe (at)) << link.jitter / kMs << " ms of jitter";
  }
  t.retransmissions (at + 100 * kMs, 2, 0);
  EXPECT_TRUE (t.nack_safe (at + 100 * kMs));

  // With a floor (min-latency) that covers every packet: from the start.
  PlayoutTarget floor (80, 1000);
  Sim s2 (floor);
  s2.run (0, 5000 * kMs, {.jitter = 10 * kMs});
  EXPECT_TRUE (floor.nack_safe (5000 * kMs));
}

// Bounds: never below min, never above max.
TEST (PlayoutTarget, Bounds)
{
  PlayoutTarget low (15, 1000);
  Sim a (low);
  a.run (0, 5000 * kMs, {});
  EXPECT_EQ (low.target_ms (), 15u);

  PlayoutTarget high (0, 40);
  Sim b (high);
  EXPECT_EQ (b.run (0, 5000 * kMs, {.jitter = 50 * kMs}), 40u);
  EXPECT_EQ (high.target_ms (), 40u);
}

// Clocks that drift apart (the sender's 200 ppm slow: 2 ms in 10 s) do
// not read as jitter.
TEST (PlayoutTarget, ClockDrift)
{
  PlayoutTarget t (0, 1000);
  Sim sim (t);
  unsigned highest = sim.run (0, 60000 * kMs, {.drift_ppm = 200});
  EXPECT_LE (highest, 8u);
  EXPECT_LE (t.target_ms (), 6u);
}

// While packets are lost (or recovered by retransmission) the target
// leaves room for a round trip, more as more of the packets need one; 10 s
// after the last one it no longer does.
TEST (PlayoutTarget, RoomForRetransmissions)
{
  PlayoutTarget t (0, 1000);
  Sim sim (t);
  sim.run (0, 3000 * kMs, {});
  t.retransmissions (3000 * kMs, 0, 0);
  EXPECT_FALSE (t.retransmitting (3000 * kMs));
  sim.run (3000 * kMs, 3500 * kMs, {});
  t.retransmissions (3500 * kMs, 2, 0);  // lost, no round trip measured yet
  EXPECT_TRUE (t.retransmitting (3500 * kMs));
  EXPECT_GE (t.update (3500 * kMs), 50u);  // the default 40 ms round trip + 10
  sim.run (3500 * kMs, 4000 * kMs, {});
  // Now measured: 25 ms. 3 of the packets since the counting began needed
  // a retransmission (2-3%): room for a second attempt (the fewest that
  // leave no more than 1 packet in 5000 lost for good when requests and
  // resent copies are lost as often).
  t.retransmissions (4000 * kMs, 3, 25 * kMs);
  sim.run (4000 * kMs, 6000 * kMs, {});
  EXPECT_GE (t.target_ms (), 103u);  // a frame interval (33 ms) + 2 x (25 + 10)
  EXPECT_LE (t.target_ms (), 135u);  // (with the 25% headroom)
  // No more: the 3 become less than 2% of the packets of the last 10 s,
  // and one attempt is room enough.
  for (int64_t at = 6000; at < 12000; at += 1000) {
    sim.run (at * kMs, (at + 1000) * kMs, {});
    t.retransmissions ((at + 1000) * kMs, 3, 25 * kMs);
  }
  EXPECT_TRUE (t.retransmitting (12000 * kMs));
  EXPECT_GE (t.target_ms (), 68u);  // 33 + 25 + 10
  EXPECT_LE (t.target_ms (), 90u);
  sim.run (12000 * kMs, 16000 * kMs, {});
  EXPECT_FALSE (t.retransmitting (16000 * kMs));
  EXPECT_LE (t.target_ms (), 4u);
}

// Behind a bottleneck whose queue filled (300 ms) and lost packets, the
// retransmissions' round trip is measured with the queue in it. Once the
// queue drained, the room kept for retransmissions is the round trip of
// the link again (here 20 ms), not of the queue: the target falls to a
// few attempts of it within seconds, while retransmissions are still
// needed, instead of holding hundreds of ms for 10 s.
TEST (PlayoutTarget, RoundTripMeasuredBehindAQueue)
{
  PlayoutTarget t (0, 1000);
  Sim sim (t);
  Link clean;
  sim.run (0, 3000 * kMs, clean);
  t.retransmissions (3000 * kMs, 0, 0);
  Link queued = clean;
  queued.delay += 300 * kMs;
  sim.run (3000 * kMs, 4000 * kMs, queued);
  // Losses at the full queue; their retransmissions took 300 + 20 ms.
  t.retransmissions (4000 * kMs, 4, 320 * kMs);
  sim.run (4000 * kMs, 5000 * kMs, queued);
  t.retransmissions (5000 * kMs, 6, 320 * kMs);
  EXPECT_TRUE (t.retransmitting (5000 * kMs));
  EXPECT_GE (t.target_ms (), 600u);  // the queue and a retransmission through it
  // The queue drains; the jitterbuffers' average round trip comes down a
  // sixteenth of the way to 20 ms with each retransmission since (two a
  // second), from 320 ms: 284, 252... (a new one each second, no longer
  // with a queue to take out).
  int64_t avg = 320 * kMs;
  for (int64_t at = 5000; at < 10000; at += 1000) {
    sim.run (at * kMs, (at + 1000) * kMs, clean);
    for (int i = 0; i < 2; i++)
      avg += (20 * kMs - avg) / 16;
    t.retransmissions ((at + 1000) * kMs, 6 + (at - 4000) / 2000, avg);
  }
  sim.run (10000 * kMs, 10001 * kMs, clean);  // a tick
  EXPECT_TRUE (t.retransmitting (10000 * kMs));
  EXPECT_GE (t.target_ms (), 63u);   // room for a retransmission: 33 + 20 + 10 ms
  EXPECT_LE (t.target_ms (), 100u);  // (with the 320 ms taken as it came: 400+)
}
