// SPDX-License-Identifier: LGPL-2.1-or-later
//
// PlayoutTarget: how long a receiver should hold media before playing it,
// from what the network does to its packets. A pure class (no GStreamer;
// the caller passes the time), so that tests can drive it.
//
// Every media packet (not a retransmission) of every stream counts, after
// the stream's first second (its first frames were made and sent while the
// sender's pipeline was still starting, ~30 ms sooner after their capture
// than later ones over rtcstreamsink's loopback): its
// transit, arrival time minus its RTP timestamp in ns, has a floor, the
// least transit of that stream in the last 5 s (a sliding minimum, which
// follows the drift between the two clocks, a route that gets faster, and
// one that got slower once 5 s have passed).
// Its *delay* is how far above that floor it arrived: network jitter, a
// packet that was overtaken (reordering), the time a big frame takes on
// the link, the sender's encoder taking longer for one frame. A frame is
// late when one of its packets is later than the playout delay, so the
// need is the largest delay of the last 2 s (every packet counts), plus a
// margin of 20% and 2 ms. While retransmissions are needed (a packet lost
// for good or recovered by one in the last 10 s: the caller counts them),
// the need also leaves room for one:
// the largest delay plus the round trip (measured on retransmissions; 40 ms
// until one was) plus 10 ms for the gap to be noticed and asked about; and
// for more attempts as more of the packets of the last 10 s needed one: as
// many as it takes for no more than 1 packet in 5000 to be lost for good,
// with requests and resent copies lost as often as the rest (2 from ~1%, 3
// from ~3%, 4 from ~7%, 5 from ~11%): at 5-10% random loss each way one
// round trip of room left 8-37% of the frames undecoded, two 10-16% at 10%,
// three 2-15% at 10% (40 ms round trip, 30 fps).
//
// The target follows the need within [min, max]:
//   - up at once, to 1.25 x the need (headroom, so that a growing jitter
//     does not move it packet by packet): packet () says when, so that the
//     caller applies it without waiting for its next tick;
//   - down once the need has stayed below 3/4 of the target for 1 s
//     (after the 2 s window forgot the large delays), in one step to
//     1.25 x the need. Every change moves the pipeline's latency, which
//     sinks show as a small jump, so it moves seldom.
//
// Not thread-safe: the owner serialises calls.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <tuple>

namespace rtcstream {

class PlayoutTarget {
public:
  static constexpr int64_t kMs = 1000000;   // ns
  static constexpr int64_t kWindow = 2000 * kMs;        // the need: largest delay in it
  static constexpr int64_t kFloorWindow = 5000 * kMs;   // a stream's least transit
  static constexpr int64_t kRetransmissionMemory = 10000 * kMs;
  static constexpr int64_t kDefaultRtt = 40 * kMs;      // until one was measured
  static constexpr int64_t kFallHold = 1000 * kMs;
  static constexpr int64_t kWarmup = 1000 * kMs;

  PlayoutTarget (unsigned min_ms, unsigned max_ms);

  // A media packet of stream ssrc arrived at now (ns, any monotonic clock)
  // with RTP timestamp rtp_ts at clock_rate Hz (> 0). True when the target
  // rose: apply it now.
  bool packet (uint32_t ssrc, int64_t now, uint32_t rtp_ts, uint32_t clock_rate);
  // The receiver's counters at now: packets lost for good plus those
  // recovered by a retransmission, summed over streams (cumulative), and
  // the round trip of retransmissions (ns, 0: none measured yet).
  void retransmissions (int64_t now, uint64_t lost_or_recovered, int64_t rtt);
  // Lets the target fall when it may (call it every second or so); returns
  // the target in ms.
  unsigned update (int64_t now);

  unsigned target_ms () const { return target_ms_; }
  // The largest delay of the window (ms): what the jitter asks for.
  unsigned delay_ms (int64_t now);
  // Whether the target leaves room for retransmissions now.
  bool retransmitting (int64_t now) const;

private:
  struct Stream {
    uint32_t last_ts = 0;
    int64_t ext_ts = 0;  // unwrapped, from 0 at the first packet
    uint32_t clock_rate = 0;
    int64_t since = 0;   // its first packet
    // (start of a 1 s bucket, least transit in it), oldest first
    std::deque<std::pair<int64_t, int64_t>> floors;
  };
  // The need (ns) at now, margins included.
  int64_t need (int64_t now);
  void forget (int64_t now);
  unsigned clamp (int64_t ns) const;

  unsigned min_ms_, max_ms_, target_ms_;
  std::map<uint32_t, Stream> streams_;
  // (start of a 100 ms bucket, largest delay in it), oldest first
  std::deque<std::pair<int64_t, int64_t>> delays_;
  uint64_t lost_or_recovered_ = 0;
  uint64_t packets_ = 0;  // media packets so far
  // (when, lost_or_recovered, packets) at each retransmissions () of the
  // last 10 s: the share of packets that needed a retransmission
  std::deque<std::tuple<int64_t, uint64_t, uint64_t>> counts_;
  int attempts_ = 1;  // retransmission attempts the target leaves room for
  bool counted_ = false;
  int64_t last_retransmission_ = -1;  // when lost_or_recovered last grew
  int64_t rtt_ = 0;
  int64_t below_since_ = -1;  // since when the need is below 3/4 of the target
};

}  // namespace rtcstream
