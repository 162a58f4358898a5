// SPDX-License-Identifier: LGPL-2.1-or-later
//
// BandwidthProbe: upward probing for an application-limited sender. A pure
// class (no GStreamer, no clock of its own: every call passes the time), so
// that tests drive it, as BandwidthEstimator (bandwidth.h).
//
// The estimator learns only from what arrives, and never stands more than
// 1.25-1.5 times above it. A sender that sends less than the link could
// carry (rtcstreamsink's encoder gets 85% of the estimate; its picture
// stepped down to a small size or to half the frame rate; static content;
// pre-encoded video at a low rate) cannot find out that a cap has lifted:
// what arrives stays small, and so does the estimate. As libwebrtc's
// ProbeController and ProbeBitrateEstimator do, the sender now and then puts
// out a short cluster of extra packets on top of its media, paced at twice
// the estimate (in all), and the rate at which the cluster arrived (from
// TWCC feedback) says whether the link carried it:
//
//  - When: only while the estimate is below the most it may be (max_bps),
//    the sender sends less than the estimate (app-limited), and the link
//    showed no congestion (overuse, more than 2% loss, a queue above 20 ms)
//    for the last 3 s; at most every 4 s, and after a probe that found no
//    more (the link was full, or its result unusable) twice as seldom each
//    time, up to every 12 s, so that a link that is full costs one short
//    cluster every 12 s. A probe whose link carried it all is followed by
//    the next one 2 s after its result, at twice the new estimate
//    (exponential probing: a link opened from 150 kbit/s to 4 Mbit/s is
//    found in about 10 s); the 2 s let the encoder send at the new estimate
//    first, so that the delay shows a raise that went too far (a shaper's
//    token bucket lets a short cluster through faster than its rate).
//    An estimate that falls to below two thirds of the highest of the last
//    10 s (a cap-like drop) brings the interval back to 4 s: when that cap
//    lifts, the next probe comes soon.
//  - How much: the cluster's padding is twice the estimate less what is
//    sent, over at least 100 ms and 5 packets, and at most kMaxPackets
//    packets: at most about a tenth of a second of the estimate per probe.
//  - What it found: every packet the feedback reports as sent within the
//    cluster's window (the media sent meanwhile too) counts. The send rate
//    is their bytes (less the last one's) over the time from the first to
//    the last one sent; the receive rate likewise over the arrival times
//    (less the first one's). Unusable with fewer than 5 packets arrived, or
//    fewer than 80% of those sent, or a send or receive span that is not
//    between 0 and 1 s, or a receive rate more than twice the send rate. A
//    link that received at 90% of the send rate or more carried the cluster:
//    the result is the smaller of the two rates, which the estimator takes
//    (BandwidthEstimator::on_probe_result). Below that the link was full
//    (its queue grew): the probe found no more, and the estimator learns
//    what the link carries (BandwidthEstimator::on_probe_sent, on_probe_full).
//
// The sender (rtcstreamsink, sink-congestion.cpp) puts the padding out as
// RTX copies of packets it just sent; they travel the path the media does,
// numbered by TWCC, and receivers drop them as duplicates.
//
// Not thread-safe: the owner serialises calls.
#pragma once

#include "bandwidth.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace rtcstream {

class BandwidthProbe {
public:
  // The least time between probes, after a success, and the most after failures.
  static constexpr int64_t kIntervalUs = 4000000;
  static constexpr int64_t kAfterSuccessUs = 2000000;
  static constexpr int64_t kMaxIntervalUs = 12000000;
  // How long the link must have shown no congestion.
  static constexpr int64_t kQuietUs = 3000000;
  // A cluster: at least this long and this many packets, at most this many.
  static constexpr int64_t kMinDurationUs = 100000;
  static constexpr unsigned kMinPackets = 5;
  static constexpr unsigned kMaxPackets = 40;

  // What the sender knows of the link at a tick.
  struct Link {
    uint32_t estimate_bps = 0;
    uint32_t max_bps = 0;   // the most the estimate may be
    uint32_t sent_bps = 0;  // what was sent over the last second
    bool congested = false;  // overuse, loss or a queue now
  };

  // A cluster to send now: padding at padding_bps (on top of the media)
  // for at least min_duration_us and min_packets packets, and at most
  // max_bytes.
  struct Plan {
    unsigned id = 0;
    uint32_t target_bps = 0;  // media and padding together
    uint32_t padding_bps = 0;
    int64_t min_duration_us = 0;
    unsigned min_packets = 0;
    uint64_t max_bytes = 0;
  };

  // What a cluster found.
  struct Result {
    unsigned id = 0;
    bool valid = false;      // enough arrived to tell
    bool carried = false;    // the link carried the cluster's rate
    uint32_t send_bps = 0, recv_bps = 0;
    uint32_t bps = 0;        // what the estimator may take (carried only)
    unsigned packets = 0;    // reported as sent in the window
  };

  // Once a tick: the link's state; returns a cluster to send now, if it
  // is time for one. avg_packet_bytes: the size of the packets the sender
  // will copy (0: it has none, no probe).
  std::optional<Plan> tick (const Link &link, uint32_t avg_packet_bytes, int64_t now_us);

  // The sender put cluster id's padding out from start_us to end_us (the
  // sender's clock, the one of the feedback's send times): packets bytes in
  // packets. A cluster that could not be sent (packets == 0) is dropped.
  void on_sent (unsigned id, int64_t start_us, int64_t end_us, unsigned packets, uint64_t bytes);

  // TWCC feedback (as given to the estimator): the result of the cluster
  // in flight once the feedback covers it, or once it is over 2 s old.
  std::optional<Result> on_feedback (const std::vector<PacketFeedback> &packets, int64_t now_us);

  // Whether a cluster is being sent or waits for its feedback.
  bool in_flight () const { return state_ != State::Idle; }

  uint64_t probes () const { return probes_; }
  // Clusters that the link carried at 1.2 times the estimate or more.
  uint64_t found_more () const { return found_more_; }
  uint64_t padding_packets () const { return padding_packets_; }
  uint64_t padding_bytes () const { return padding_bytes_; }
  // The last result (empty until a cluster was judged).
  const std::optional<Result> &last () const { return last_; }
  int64_t interval_us () const { return interval_us_; }

private:
  enum class State { Idle, Sending, Waiting };

  Result judge () const;
  void finish (const Result &r, int64_t now_us);

  State state_ = State::Idle;
  unsigned next_id_ = 1;
  unsigned id_ = 0;
  int64_t start_us_ = 0, end_us_ = 0;
  uint32_t plan_estimate_bps_ = 0;  // the estimate the cluster started from
  std::vector<PacketFeedback> window_;  // reported packets sent since start_us_
  bool covered_ = false;                // a packet sent after the window was reported

  int64_t last_probe_us_ = -1;      // when the last cluster was planned
  int64_t interval_us_ = kIntervalUs;
  int64_t last_congested_us_ = -1;  // the last tick that showed congestion
  int64_t first_tick_us_ = -1;
  // The highest estimate of the last 10 s (per second), for drops.
  std::vector<std::pair<int64_t, uint32_t>> recent_;

  uint64_t probes_ = 0, found_more_ = 0, padding_packets_ = 0, padding_bytes_ = 0;
  std::optional<Result> last_;
};

}  // namespace rtcstream
