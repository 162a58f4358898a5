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
// the link, the sender's encoder taking longer for one frame.
//
// What the need covers depends on what a late packet costs in GStreamer's
// jitterbuffer (rtpjitterbuffer, 1.22):
//   - a packet that arrives in order (after the one before it) is pushed
//     as soon as it comes, whatever the latency: late, it is not lost. It
//     re-bases the jitterbuffer's timestamps when it is later than the
//     latency ("reset jitterbuffer"), so that the pictures after it are
//     stamped later too for a few hundred ms, and it reaches the sink late,
//     where the sink's processing-deadline (20 ms) and max-lateness (20 ms
//     for video sinks) still render it. So the need covers most of these,
//     not all: the 95th percentile of the in-order packets' delays of the
//     last 2 s. A burst of load once a second (a starved encoder) delays a
//     frame or two a second, ~1-3% of the packets, and no longer sets the
//     delay of every picture;
//   - a packet overtaken by later ones (reordering) fills a gap, and the
//     jitterbuffer gives up on a gap at its expected time plus the
//     latency: later, the packet is dropped and its frame lost (VP8 then
//     waits for a keyframe). So the need covers the largest delay of the
//     reordered packets of the last 2 s;
//   - with NACK on and rtx-next-seqnum (rtpjitterbuffer's default), the
//     jitterbuffer would also expect each next packet at its time, give it
//     up at that time plus the latency, in order or not, and ask for it
//     again while it is only late, so every packet would have to be
//     within the target; rtcstreamsrc turns rtx-next-seqnum off (NACK for
//     gaps only, as libwebrtc's), and the need is the same with NACK on:
//     behind a 500 kbit/s cap the largest delay of every packet (the
//     queue building up at each congestion) held the target at 500-1000
//     ms where the 95th percentile of the in-order ones is 5-100 ms.
// Each with a margin of 20% and 2 ms. While retransmissions are needed (a
// packet lost for good or recovered by one in the last 10 s: the caller
// counts them), the need also leaves room for one:
// that delay plus a frame interval (the largest of the streams': with NACK
// for gaps only, a frame's last packet lost is noticed when the next
// frame's first comes) plus, per attempt, the round trip plus that delay
// again plus 10 ms for the request to be sent. The round trip is
// measured on retransmissions (40 ms until one was), less the delay the
// media met above their floor over the second before it was (the queue of a
// bottleneck: a retransmission waits in it too, and the jitterbuffers'
// average round trip falls only as new retransmissions come, so a round
// trip measured behind a full 300 ms queue kept 5 x 300 ms of room for 10 s
// after the queue had drained: a 500-1000 ms target on a link whose delay
// was back at 5 ms), the least of those of the last 10 s (the average,
// stepping down from the queue's, is not less the queue once it drained);
// the delay now comes back in as the window's. And
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
#include <vector>

namespace rtcstream {

class PlayoutTarget {
public:
  static constexpr int64_t kMs = 1000000;   // ns
  static constexpr int64_t kWindow = 2000 * kMs;        // the need: largest delay in it
  static constexpr int64_t kFloorWindow = 5000 * kMs;   // a stream's least transit
  static constexpr int64_t kRetransmissionMemory = 10000 * kMs;
  static constexpr int64_t kDefaultRtt = 40 * kMs;      // until one was measured
  // A measured round trip is taken less the mean delay of this last span.
  static constexpr int64_t kQueueSpan = 1000 * kMs;
  // A frame interval counted for noticing a gap at most (10 fps).
  static constexpr int64_t kMaxInterval = 100 * kMs;
  static constexpr int64_t kFallHold = 1000 * kMs;
  static constexpr int64_t kWarmup = 1000 * kMs;
  // The share of in-order packets (per 1000) the need may leave later than
  // the target, while no retransmissions are needed.
  static constexpr int kLateInOrderPerMille = 50;

  PlayoutTarget (unsigned min_ms, unsigned max_ms);

  // A media packet of stream ssrc arrived at now (ns, any monotonic clock)
  // with sequence number seq and RTP timestamp rtp_ts at clock_rate Hz
  // (> 0). True when the target rose: apply it now.
  bool packet (uint32_t ssrc, int64_t now, uint16_t seq, uint32_t rtp_ts, uint32_t clock_rate);
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
  // The 95th percentile of the in-order packets' delays of the window (ms).
  unsigned in_order_delay_ms (int64_t now);
  // Whether the target leaves room for retransmissions now.
  bool retransmitting (int64_t now) const;
  // Whether the jitterbuffers may ask for retransmissions (NACK) without
  // giving up on packets that are only late: while retransmissions are
  // needed (the need then covers every packet). Not before: with NACK a
  // jitterbuffer gives up on a packet its latency after its expected
  // time, and the target may be below the delay of a few in-order packets
  // (measured: with NACK from a 10 ms target on a loaded machine, a packet
  // counted lost or recovered on a link that lost none, and the room kept
  // for retransmissions held the target at 71 ms, 6 ms of network delay).
  // A loss is seen without NACK too: the jitterbuffer counts a gap it gave
  // up on. Also while a floor was set
  // (min > 0: the user asks for room, for a retransmission before the first
  // loss) and the target covers every packet of the window.
  bool nack_safe (int64_t now);

private:
  struct Stream {
    uint32_t last_ts = 0;
    int64_t ext_ts = 0;  // unwrapped, from 0 at the first packet
    uint32_t clock_rate = 0;
    int64_t since = 0;   // its first packet
    uint16_t highest_seq = 0;  // the highest sequence number so far
    int64_t interval = 0;      // ns between its last two frames (in order)
    // (start of a 1 s bucket, least transit in it), oldest first
    std::deque<std::pair<int64_t, int64_t>> floors;
  };
  // The need (ns) at now, margins included.
  int64_t need (int64_t now);
  // The largest delay of buckets (ns).
  static int64_t largest (const std::deque<std::pair<int64_t, int64_t>> &buckets);
  // The 95th percentile of in_order_ (ns), worked out at most every 5 ms
  // (a selection over every in-order packet of 2 s: ~500 at 2 Mbit/s, ten
  // times that at 20) unless fresh.
  int64_t in_order_percentile (int64_t now, bool fresh = false);
  void forget (int64_t now);
  unsigned clamp (int64_t ns) const;
  // The room (ns) one retransmission attempt takes when packets meet delay.
  int64_t attempt (int64_t delay) const;

  unsigned min_ms_, max_ms_, target_ms_;
  std::map<uint32_t, Stream> streams_;
  // (start of a 100 ms bucket, largest delay in it), oldest first: of
  // every packet, and of the reordered ones
  std::deque<std::pair<int64_t, int64_t>> delays_, reordered_;
  // (arrival, delay) of each in-order packet of the window, oldest first
  std::deque<std::pair<int64_t, int64_t>> in_order_;
  std::vector<int64_t> scratch_;  // in_order_percentile's
  int64_t percentile_ = 0, percentile_at_ = -1;  // its last result, and when
  uint64_t lost_or_recovered_ = 0;
  uint64_t packets_ = 0;  // media packets so far
  // (when, lost_or_recovered, packets) at each retransmissions () of the
  // last 10 s: the share of packets that needed a retransmission
  std::deque<std::tuple<int64_t, uint64_t, uint64_t>> counts_;
  int attempts_ = 1;  // retransmission attempts the target leaves room for
  bool counted_ = false;
  int64_t last_retransmission_ = -1;  // when lost_or_recovered last grew
  int64_t rtt_ = -1;        // the round trip less the queue (ns); < 0: none measured
  int64_t rtt_given_ = 0;   // the round trip last given
  // (when, round trip less the queue) of each new one of the last 10 s
  std::deque<std::pair<int64_t, int64_t>> rtts_;
  int64_t below_since_ = -1;  // since when the need is below 3/4 of the target
};

}  // namespace rtcstream
