// SPDX-License-Identifier: LGPL-2.1-or-later
//
// BandwidthEstimator: how many bits per second one viewer's path carries,
// estimated on the sender from the feedback the viewer sends. A pure class
// (no GStreamer, no clock of its own: every call passes the time), so that
// tests feed it synthetic feedback.
//
// After Google Congestion Control (draft-ietf-rmcat-gcc-02), in two parts
// whose smaller result is the estimate:
//
//  - delay-based, from transport-wide congestion control feedback (TWCC:
//    per packet, when it was sent and when it arrived). Packets sent within
//    5 ms form a group; the change of the one-way delay from group to group
//    is smoothed and its trend (a linear regression over the last 20
//    groups) compared with an adaptive threshold: a rising trend means a
//    queue is building (overuse), a falling one that it drains (underuse).
//    A queue that fills slowly (the trend stays under the threshold) is
//    caught by its length: a smoothed one-way delay 60 ms above the least
//    seen in the last 30 s is overuse too. Arrival times that jump (the
//    receiver's clock: back by over a second, or seconds more than the
//    send times moved) start the detector again on the new clock.
//    A rate controller then cuts the rate to 85% of what arrived on
//    overuse (less by the standing queue's share of a second, so that it
//    drains), holds on underuse, and otherwise raises it: 8% a second until
//    the first congestion (the encoder sends more, and the delay says
//    whether the path took it), then by about half a
//    packet per twice the round trip (plus 100 ms each), until what arrives exceeds where the link was
//    congested (it got faster: 8% a second again). It never goes above 1.5
//    times what arrived (1.25 times near the last congestion: the sink's
//    encoder uses ~85% of the estimate, and a bound below 1/0.85 held it
//    where it stood), so an encoder that sends less than its target does
//    not let the estimate run away.
//  - loss-based, from the same feedback or, without it, from RTCP receiver
//    reports (fraction lost, judged over periods of 1-2 s): above 10% loss
//    the rate falls from the estimate by half the loss (once per round
//    trip), below 2% it grows by 8% a second from the estimate, in between
//    it holds where it stands, so that steady random loss does not ratchet
//    the estimate down at each delay-based dip. With TWCC, loss above 10%
//    lowers the rate only when it looks like congestion: overuse, a
//    standing queue above 20 ms, or more than 20% lost. Random loss (a
//    radio link) builds no queue; NACK and retransmissions repair it, and
//    cutting for it (GCC's rule) starves a link with 10% random loss, whose
//    measured loss stands above 10% every other period. A cut never goes
//    below 85% of what arrived over the last second: after a cap drop the
//    full queue keeps losing packets sent before the cut for a while, and
//    cutting on each period of it starved the stream far below the link.
//  - upward probes (probe.h): a cluster that the link carried at a rate
//    above the estimate lifts both rates to it, past the bound of 1.5
//    times what arrived: a sender that sends less than the link carries
//    finds a link that got faster.
//  - a bound from REMB (receiver estimated maximum bitrate, RTCP PSFB
//    "REMB"), which receivers without TWCC send (aiortc, Janus towards a
//    publisher, where its `bitrate` cap is set): the estimate never stands
//    above the newest REMB of the last 15 s.
//
// Not thread-safe: the owner serialises calls (the sink holds a lock).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

namespace rtcstream {

// One packet of a TWCC report.
struct PacketFeedback {
  uint16_t seq = 0;      // transport-wide sequence number
  int64_t send_us = 0;   // when it was sent, sender's clock
  int64_t recv_us = -1;  // when it arrived, receiver's clock; < 0: lost
  uint32_t size = 0;     // bytes
};

// Reads the FCI of an RTCP PSFB application-layer feedback (fmt 15) that
// is a REMB: "REMB", the number of SSRCs, a 6-bit exponent and an 18-bit
// mantissa (bitrate = mantissa << exponent), then the SSRCs. False when it
// is not a REMB or is truncated.
bool parse_remb (const uint8_t *fci, size_t size, uint64_t *bps);

struct BandwidthLimits {
  uint32_t min_bps = 100000;
  uint32_t start_bps = 1000000;
  uint32_t max_bps = 3000000;
};

class BandwidthEstimator {
public:
  enum class Usage { Normal, Over, Under };

  explicit BandwidthEstimator (const BandwidthLimits &limits = {});

  // New bounds; the estimate is clamped into them.
  void set_limits (const BandwidthLimits &limits);

  // A TWCC report (packets in sequence order) arrived at now_us (the sender's
  // clock, the one of send_us).
  void on_transport_feedback (const std::vector<PacketFeedback> &packets, int64_t now_us);
  // An RTCP receiver report: the fraction lost since the previous one (0..1)
  // and the round trip (ms, < 0 unknown). Used only while no TWCC feedback
  // comes (which gives both, sooner).
  void on_receiver_report (double fraction_lost, double rtt_ms, int64_t now_us);
  // A REMB from the receiver: the most it says it can take (bit/s).
  void on_remb (uint64_t bps, int64_t now_us);
  // A probe cluster (probe.h) arrived at bps, as fast as it was sent: the
  // link carries at least that. Above the estimate, and unless the link
  // shows congestion now (overuse, loss above 10%), both rates rise to it
  // (as libwebrtc's probe results set its estimate), and where the link
  // was last congested is forgotten when it is well below. True when the
  // estimate rose.
  bool on_probe_result (uint32_t bps, int64_t now_us);
  // A probe cluster went out until end_us. On a link that is full it
  // builds a queue of its own, which drains once it is over: overuse seen
  // until that queue is down to 20 ms (3 s at most) holds the rate instead
  // of cutting it (a probe that found nothing cost a 15-30% cut and a
  // smaller picture behind 500 kbit/s before). Loss still counts.
  void on_probe_sent (int64_t end_us);
  // That cluster arrived at recv_bps, slower than it was sent: the link was
  // full and carries about recv_bps. Below the estimate the link is thinner
  // than thought (the media alone fill it): the hold ends and the
  // delay-based rate falls to recv_bps.
  void on_probe_full (uint32_t recv_bps, int64_t now_us);

  uint32_t estimate_bps () const { return estimate_; }
  uint32_t delay_based_bps () const { return delay_rate_; }
  // What arrived at the receiver over the last second of TWCC feedback (0 without).
  uint32_t received_bps () const { return received_.bps; }
  // What was sent over the last second of reported packets, lost or not (0 without TWCC).
  uint32_t sent_bps () const { return sent_.bps; }
  // The recent loss fraction (0..1), from TWCC or receiver reports.
  double loss () const { return loss_; }
  double rtt_ms () const { return rtt_ms_; }
  Usage usage () const { return usage_; }
  // The delay trend (ms, amplified as compared) and the threshold it is
  // compared with, and the standing queue's delay (ms): for logs and stats.
  double trend_ms () const { return prev_trend_; }
  double queue_delay_ms () const { return std::max (queue_delay_ms_, 0.0); }
  // Where the link was last congested (bit/s), 0 when unknown.
  uint32_t capacity_bps () const { return (uint32_t) std::max (capacity_avg_bps_, 0.0); }
  double threshold_ms () const { return threshold_ms_; }
  // Whether TWCC feedback came in the last 3 s before now_us.
  bool has_transport_feedback (int64_t now_us) const;
  // The newest REMB's bitrate while it bounds the estimate, else 0.
  uint32_t remb_bps () const { return remb_bps_; }
  // Counters, for logs and stats: packets TWCC reported, those reported
  // lost, and the packet groups whose delay was compared (each one a
  // verdict of the delay detector).
  uint64_t reported_packets () const { return reported_packets_; }
  uint64_t reported_lost () const { return reported_lost_; }
  uint64_t delay_groups () const { return delay_groups_; }
  // How often the receiver's clock jumped (arrival times back by over a
  // second, or moved seconds more than the send times): each time the delay
  // detector started again.
  uint64_t clock_jumps () const { return clock_jumps_; }

private:
  enum class RateState { Hold, Increase, Decrease };

  // The bitrate of the packets of the last second (by the time given).
  struct RateWindow {
    std::deque<std::pair<int64_t, uint32_t>> packets;  // time, bytes
    uint64_t total = 0;
    uint32_t bps = 0;
    void add (int64_t at_us, uint32_t bytes);
  };

  struct Group {
    int64_t first_send = 0, last_send = 0, last_recv = 0;
    bool empty = true;
  };

  void add_to_group (const PacketFeedback &p);
  void on_group (const Group &prev, const Group &cur);
  void track_queue_delay (const Group &g);
  void restart_delay_tracking ();
  void detect (double trend, double dt_ms, int64_t at_us);
  void update_delay_rate (int64_t now_us);
  double capacity_dev () const;
  void update_loss_rate (double loss, bool delay_known, int64_t now_us);
  void settle ();

  BandwidthLimits limits_;
  uint32_t estimate_ = 0, delay_rate_ = 0, loss_rate_ = 0;
  uint32_t remb_bps_ = 0;  // 0: no REMB bounds the estimate
  int64_t remb_at_us_ = -1;
  int64_t latest_us_ = -1;  // the newest now_us given

  // Delay: packet groups and the trend of their delay variation.
  Group group_, prev_group_;
  double accumulated_delay_ms_ = 0, smoothed_delay_ms_ = 0;
  std::deque<std::pair<double, double>> trend_window_;  // arrival ms, smoothed delay
  int64_t first_arrival_us_ = -1;
  unsigned num_deltas_ = 0;
  double prev_trend_slope_ = 0;  // the last slope, until the window is full again
  double threshold_ms_;
  int64_t last_threshold_update_us_ = -1;
  double overuse_ms_ = 0;
  unsigned overuse_count_ = 0;
  double prev_trend_ = 0;
  Usage usage_ = Usage::Normal;
  // Standing queue: the least one-way delay per second (sender to receiver
  // clock, offset included) over the last 30 s, and the smoothed delay
  // above it.
  std::deque<std::pair<int64_t, int64_t>> base_delays_;  // second, least delay (us)
  double queue_delay_ms_ = -1;

  // Rate control.
  RateState state_ = RateState::Increase;
  int64_t last_delay_update_us_ = -1, last_decrease_us_ = -1;
  int64_t probe_hold_until_us_ = -1;  // overuse holds until then (on_probe_sent)
  int64_t probe_end_us_ = -1;
  double capacity_avg_bps_ = -1, capacity_var_ = 0;  // at decreases: where the link was

  // What arrived, and what was sent (lost packets too), over the last second.
  RateWindow received_;  // by arrival time
  RateWindow sent_;      // by send time

  // Loss: packets counted until a period is long enough to judge.
  unsigned period_lost_ = 0, period_total_ = 0;
  int64_t period_start_us_ = -1;
  int64_t last_loss_update_us_ = -1, last_loss_decrease_us_ = -1;
  double loss_ = 0;

  double rtt_ms_ = -1;
  uint64_t reported_packets_ = 0, reported_lost_ = 0, delay_groups_ = 0, clock_jumps_ = 0;
  int64_t last_feedback_us_ = -1;
  bool seen_feedback_ = false;
};

const char *usage_name (BandwidthEstimator::Usage usage);

}  // namespace rtcstream
