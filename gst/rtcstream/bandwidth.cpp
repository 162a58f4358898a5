// SPDX-License-Identifier: LGPL-2.1-or-later
#include "bandwidth.h"

#include <algorithm>
#include <cmath>

namespace rtcstream {

namespace {

// Groups: packets sent within this of a group's first form one group.
constexpr int64_t kBurstUs = 5000;
// Trend of the delay: an exponential smoothing of the accumulated delay,
// and a linear regression over this many groups.
constexpr double kSmoothing = 0.9;
constexpr size_t kTrendWindow = 20;
constexpr double kTrendGain = 4.0;
constexpr unsigned kMaxDeltas = 60;
// Adaptive threshold on the trend (ms): initial value, how fast it follows
// the trend up and down, its bounds.
constexpr double kInitialThresholdMs = 12.5;
constexpr double kThresholdUp = 0.0087;
constexpr double kThresholdDown = 0.039;
constexpr double kMinThresholdMs = 6, kMaxThresholdMs = 600;
// A trend over the threshold for this long (and twice) is overuse.
constexpr double kOveruseMs = 10;
// So is a standing queue longer than this: its delay above the least one-way
// delay seen over the last kBaseDelayBuckets seconds (smoothed).
constexpr double kMaxQueueDelayMs = 60;
constexpr int64_t kBaseDelayBucketUs = 1000000;
constexpr size_t kBaseDelayBuckets = 30;
// Rate control.
constexpr double kBeta = 0.85;                // cut to this share of what arrived
constexpr double kMaxDrain = 0.35;            // ... less up to this for a standing queue
constexpr double kMultiplicativeGrowth = 1.08;  // per second, far from congestion
constexpr double kMaxOverReceived = 1.5;      // never above this times what arrived
constexpr double kMaxOverReceivedNear = 1.25;  // ... once near the last congestion
constexpr int64_t kReceivedWindowUs = 1000000;
// Loss: a period is judged once it has this many packets and this length,
// or once it is this long. Shorter periods judge random loss by its noise:
// 10% of 20 packets is above 10% one period in three.
constexpr unsigned kLossPeriodPackets = 50;
constexpr int64_t kLossPeriodMinUs = 1000000, kLossPeriodMaxUs = 2000000;
constexpr double kLossHigh = 0.10, kLossLow = 0.02;
// Above kLossHigh, loss lowers the rate only when it comes with congestion
// (overuse, or a standing queue longer than this), or when it is above
// kLossSevere: random loss (radio links, or netsim's) neither builds a
// queue nor grows with the rate, and NACK and retransmissions repair it.
constexpr double kLossQueueMs = 20;
constexpr double kLossSevere = 0.20;
// A loss cut never goes below this share of what arrived over the last
// second (the acknowledged rate): the path carries that much, and the
// losses that follow a congestion were mostly sent before the cut (a full
// queue drains for a while), so cutting on them again and again starved the
// stream far below the link (500 kbit/s: down to the minimum, 120 kbit/s)
// and it took 8% a second to grow back.
constexpr double kLossAckedFloor = 0.85;
constexpr double kLossGrowth = 1.08;  // per second
constexpr int64_t kLossDecreaseUs = 300000;
// After a probe cluster, overuse holds the rate for at most this long, or
// until the queue is down to kLossQueueMs (not before this): a cluster's
// queue on a link the media fill to 90% drains in about ten times its
// length (a 100 ms cluster: a second).
constexpr int64_t kProbeHoldUs = 3000000, kProbeHoldMinUs = 300000;
// Arrival times that go back by more than this, or that move this much more
// than the send times did between two groups, are a jump of the receiver's
// clock (no path reorders or holds packets that long): the delay detector
// starts again on the new clock.
constexpr int64_t kClockJumpBackUs = 1000000;
constexpr double kClockJumpMs = 3000;
// Without TWCC for this long, receiver reports drive the estimate.
constexpr int64_t kFeedbackTimeoutUs = 3000000;
// A REMB bounds the estimate for this long after it came (libwebrtc sends
// one a second, Janus every few seconds, aiortc on changes).
constexpr int64_t kRembTimeoutUs = 15000000;

}  // namespace

const char *
usage_name (BandwidthEstimator::Usage usage)
{
  switch (usage) {
    case BandwidthEstimator::Usage::Over:
      return "overuse";
    case BandwidthEstimator::Usage::Under:
      return "underuse";
    default:
      return "normal";
  }
}

BandwidthEstimator::BandwidthEstimator (const BandwidthLimits &limits)
    : threshold_ms_ (kInitialThresholdMs)
{
  set_limits (limits);
  delay_rate_ = loss_rate_ = estimate_ = limits_.start_bps;
}

void
BandwidthEstimator::set_limits (const BandwidthLimits &limits)
{
  limits_ = limits;
  limits_.max_bps = std::max (limits_.max_bps, limits_.min_bps);
  limits_.start_bps = std::clamp (limits_.start_bps, limits_.min_bps, limits_.max_bps);
  delay_rate_ = std::clamp (delay_rate_, limits_.min_bps, limits_.max_bps);
  loss_rate_ = std::clamp (loss_rate_, limits_.min_bps, limits_.max_bps);
  estimate_ = std::min (delay_rate_, loss_rate_);
}

bool
BandwidthEstimator::has_transport_feedback (int64_t now_us) const
{
  return seen_feedback_ && now_us - last_feedback_us_ < kFeedbackTimeoutUs;
}

// --- TWCC ---------------------------------------------------------------------------

void
BandwidthEstimator::on_transport_feedback (const std::vector<PacketFeedback> &packets,
    int64_t now_us)
{
  seen_feedback_ = true;
  last_feedback_us_ = latest_us_ = now_us;
  unsigned lost = 0, total = 0;
  int64_t newest_send = -1;
  for (const PacketFeedback &p : packets) {
    total++;
    sent_.add (p.send_us, p.size);
    if (p.recv_us < 0) {
      lost++;
      continue;
    }
    newest_send = std::max (newest_send, p.send_us);
    received_.add (p.recv_us, p.size);
    add_to_group (p);
  }
  // The age of the newest packet reported: the round trip, plus the
  // receiver's wait before it reports (one frame or so). Receiver reports
  // come seldom (seconds apart): this one is fresh.
  if (newest_send >= 0) {
    double sample = (now_us - newest_send) / 1000.0;
    rtt_ms_ = rtt_ms_ < 0 ? sample : 0.9 * rtt_ms_ + 0.1 * sample;
  }

  if (period_start_us_ < 0)
    period_start_us_ = now_us;
  period_lost_ += lost;
  period_total_ += total;
  int64_t period = now_us - period_start_us_;
  if (period_total_ > 0 && ((period_total_ >= kLossPeriodPackets && period >= kLossPeriodMinUs) ||
          period >= kLossPeriodMaxUs)) {
    update_loss_rate ((double) period_lost_ / period_total_, true, now_us);
    period_lost_ = period_total_ = 0;
    period_start_us_ = now_us;
  }
  reported_packets_ += total;
  reported_lost_ += lost;
  update_delay_rate (now_us);
  settle ();
}

void
BandwidthEstimator::RateWindow::add (int64_t at_us, uint32_t bytes)
{
  // A clock that went back (the receiver's, see kClockJumpBackUs): what
  // was counted on the old one says nothing of the new one.
  if (!packets.empty () && at_us < packets.back ().first - kReceivedWindowUs) {
    packets.clear ();
    total = 0;
  }
  packets.emplace_back (at_us, bytes);
  total += bytes;
  while (packets.front ().first < at_us - kReceivedWindowUs) {
    total -= packets.front ().second;
    packets.pop_front ();
  }
  // Over the window once it spans most of it (a second); not before it
  // spans a fifth.
  int64_t span = packets.back ().first - packets.front ().first;
  if (span >= kReceivedWindowUs / 5)
    bps = (uint32_t) (total * 8 * 1000000 /
        (uint64_t) std::max<int64_t> (span, kReceivedWindowUs * 9 / 10));
}

void
BandwidthEstimator::add_to_group (const PacketFeedback &p)
{
  auto start = [&p] (Group &g) {
    g.first_send = g.last_send = p.send_us;
    g.last_recv = p.recv_us;
    g.empty = false;
  };
  if (!group_.empty && p.recv_us < group_.last_recv - kClockJumpBackUs)
    restart_delay_tracking ();
  if (group_.empty) {
    start (group_);
    return;
  }
  if (p.send_us < group_.first_send)
    return;  // reordered before the group: its timing says nothing new
  bool same_burst = p.send_us - group_.first_send <= kBurstUs;
  // A packet that arrives right after the group and no later than its send
  // spacing says was held back with it (a burst after a queue): same group.
  bool arrived_with = p.recv_us - group_.last_recv < kBurstUs &&
      (p.recv_us - group_.last_recv) - (p.send_us - group_.last_send) < 0;
  if (same_burst || arrived_with) {
    group_.last_send = std::max (group_.last_send, p.send_us);
    group_.last_recv = std::max (group_.last_recv, p.recv_us);
    return;
  }
  if (!prev_group_.empty)
    on_group (prev_group_, group_);
  prev_group_ = group_;
  start (group_);
}

void
BandwidthEstimator::on_group (const Group &prev, const Group &cur)
{
  double send_delta = (cur.last_send - prev.last_send) / 1000.0;
  double recv_delta = (cur.last_recv - prev.last_recv) / 1000.0;
  if (std::fabs (recv_delta - send_delta) > kClockJumpMs) {
    // The receiver's clock jumped: the least delay seen on the old one is
    // meaningless on the new one.
    restart_delay_tracking ();
    return;
  }
  if (recv_delta < 0 || recv_delta > 3000 || send_delta > 3000) {
    // Reordered groups, or a pause long enough that the queue is gone:
    // start the trend again.
    trend_window_.clear ();
    num_deltas_ = 0;
    return;
  }
  num_deltas_ = std::min (num_deltas_ + 1, kMaxDeltas);
  delay_groups_++;
  accumulated_delay_ms_ += recv_delta - send_delta;
  smoothed_delay_ms_ = kSmoothing * smoothed_delay_ms_ + (1 - kSmoothing) * accumulated_delay_ms_;
  if (first_arrival_us_ < 0)
    first_arrival_us_ = cur.last_recv;
  trend_window_.emplace_back ((cur.last_recv - first_arrival_us_) / 1000.0, smoothed_delay_ms_);
  if (trend_window_.size () > kTrendWindow)
    trend_window_.pop_front ();
  double trend = prev_trend_slope_;
  if (trend_window_.size () == kTrendWindow) {
    // Least squares slope of the smoothed delay over arrival time.
    double mx = 0, my = 0;
    for (auto &[x, y] : trend_window_) {
      mx += x;
      my += y;
    }
    mx /= kTrendWindow;
    my /= kTrendWindow;
    double num = 0, den = 0;
    for (auto &[x, y] : trend_window_) {
      num += (x - mx) * (y - my);
      den += (x - mx) * (x - mx);
    }
    if (den > 0)
      trend = num / den;
  }
  prev_trend_slope_ = trend;
  track_queue_delay (cur);
  detect (trend, send_delta, cur.last_recv);
}

void
BandwidthEstimator::restart_delay_tracking ()
{
  clock_jumps_++;
  group_ = prev_group_ = Group ();
  trend_window_.clear ();
  num_deltas_ = 0;
  first_arrival_us_ = -1;
  accumulated_delay_ms_ = smoothed_delay_ms_ = 0;
  prev_trend_slope_ = prev_trend_ = 0;
  overuse_ms_ = 0;
  overuse_count_ = 0;
  usage_ = Usage::Normal;
  base_delays_.clear ();
  queue_delay_ms_ = -1;
}

void
BandwidthEstimator::track_queue_delay (const Group &g)
{
  // One-way delay up to the clocks' offset, which the minimum takes out.
  int64_t owd = g.last_recv - g.last_send;
  int64_t bucket = g.last_recv / kBaseDelayBucketUs;
  if (base_delays_.empty () || base_delays_.back ().first != bucket)
    base_delays_.emplace_back (bucket, owd);
  else
    base_delays_.back ().second = std::min (base_delays_.back ().second, owd);
  while (base_delays_.size () > kBaseDelayBuckets)
    base_delays_.pop_front ();
  int64_t base = owd;
  for (auto &[b, d] : base_delays_)
    base = std::min (base, d);
  double queued = (owd - base) / 1000.0;
  queue_delay_ms_ = queue_delay_ms_ < 0 ? queued : 0.8 * queue_delay_ms_ + 0.2 * queued;
}

void
BandwidthEstimator::detect (double trend, double dt_ms, int64_t at_us)
{
  if (num_deltas_ < 2)
    return;
  double m = std::min (num_deltas_, kMaxDeltas) * trend * kTrendGain;
  // A queue that fills slowly (sending a few percent over the link) has a
  // trend too flat to pass the threshold, until it overflows: a standing
  // queue longer than kMaxQueueDelayMs counts as overuse too, unless it is
  // already draining.
  bool standing_queue = queue_delay_ms_ > kMaxQueueDelayMs && m > -threshold_ms_;
  if (standing_queue && usage_ != Usage::Over) {
    usage_ = Usage::Over;
    overuse_ms_ = 0;
    overuse_count_ = 0;
  } else if (m > threshold_ms_) {
    overuse_ms_ += overuse_count_ == 0 ? dt_ms / 2 : dt_ms;
    overuse_count_++;
    if (overuse_ms_ > kOveruseMs && overuse_count_ > 1 && m >= prev_trend_) {
      usage_ = Usage::Over;
      overuse_ms_ = 0;
      overuse_count_ = 0;
    }
  } else if (!standing_queue) {
    overuse_ms_ = 0;
    overuse_count_ = 0;
    usage_ = m < -threshold_ms_ ? Usage::Under : Usage::Normal;
  }
  prev_trend_ = m;

  // The threshold follows |m| slowly up and faster down, so that a path with
  // more jitter needs more to count as overuse, but ignores outliers.
  if (last_threshold_update_us_ < 0)
    last_threshold_update_us_ = at_us;
  double am = std::fabs (m);
  if (am > threshold_ms_ + 15) {
    last_threshold_update_us_ = at_us;
    return;
  }
  double k = am < threshold_ms_ ? kThresholdDown : kThresholdUp;
  double dt = std::min<double> ((at_us - last_threshold_update_us_) / 1000.0, 100.0);
  threshold_ms_ = std::clamp (threshold_ms_ + k * (am - threshold_ms_) * std::max (dt, 0.0),
      kMinThresholdMs, kMaxThresholdMs);
  last_threshold_update_us_ = at_us;
}

// The deviation of the capacity estimate, in bit/s (its variance is kept
// normalised by the mean, in kbit/s, and bounded).
double
BandwidthEstimator::capacity_dev () const
{
  double avg_kbps = std::max (capacity_avg_bps_ / 1000, 0.0);
  return std::sqrt (std::clamp (capacity_var_, 0.4, 2.5) * avg_kbps) * 1000;
}

void
BandwidthEstimator::update_delay_rate (int64_t now_us)
{
  if (last_delay_update_us_ < 0) {
    last_delay_update_us_ = now_us;
    return;
  }
  double dt_ms = (now_us - last_delay_update_us_) / 1000.0;
  switch (usage_) {
    case Usage::Over:
      state_ = RateState::Decrease;
      break;
    case Usage::Normal:
      state_ = state_ == RateState::Decrease ? RateState::Hold : RateState::Increase;
      break;
    case Usage::Under:
      state_ = RateState::Hold;
      break;
  }
  double rate = delay_rate_;
  double received = received_.bps;
  // Once the link was congested, the rate grows only additively, until
  // what arrives exceeds where it was congested by three deviations (the
  // link got faster: forget it, and grow multiplicatively again).
  if (capacity_avg_bps_ > 0 && received > capacity_avg_bps_ + 3 * capacity_dev ())
    capacity_avg_bps_ = -1;
  if (state_ == RateState::Increase) {
    if (capacity_avg_bps_ > 0) {
      // About half a packet per response time: twice the round trip plus
      // the detector's own delay (~100 ms), so that the next overuse is
      // caught before the queue has grown much.
      double rtt = rtt_ms_ > 0 ? rtt_ms_ : 100;
      double response_ms = 2 * (100 + rtt);
      double bits_per_frame = rate / 30;
      double packets_per_frame = std::ceil (bits_per_frame / (1200 * 8));
      double packet_bits = bits_per_frame / std::max (packets_per_frame, 1.0);
      double alpha = 0.5 * std::min (dt_ms / response_ms, 1.0);
      rate += std::max (1000.0, alpha * packet_bits);
    } else {
      rate *= std::pow (kMultiplicativeGrowth, std::min (dt_ms / 1000, 1.0));
    }
    // Never far above what arrives: 1.5 times while probing, 1.25 times
    // once near where the link was congested, so that an encoder below its
    // target (VP8's rate control lags) cannot leave the estimate well above
    // the link and then fill it all at once. (Not less: rtcstreamsink's
    // encoder gets 85% of the estimate less the audio, ~80-90% with
    // headers; held within 1.1 times what arrived, an estimate cut deep
    // at the start never grew back, ~250 kbit/s behind 500.)
    double over = capacity_avg_bps_ > 0 ? kMaxOverReceivedNear : kMaxOverReceived;
    if (received > 0)
      rate = std::min (rate, std::max<double> (delay_rate_, over * received + 10000));
  } else if (state_ == RateState::Decrease && now_us < probe_hold_until_us_ &&
      !(now_us > probe_end_us_ + kProbeHoldMinUs && queue_delay_ms_ < kLossQueueMs)) {
    state_ = RateState::Hold;  // the probe's own queue (on_probe_sent)
  } else if (state_ == RateState::Decrease) {
    double since = last_decrease_us_ < 0 ? 1e9 : (now_us - last_decrease_us_) / 1000.0;
    if (since >= std::max (rtt_ms_, 100.0)) {
      // 85% of what arrives, and less by the standing queue's share of a
      // second, so that a queue already built drains within about a
      // second instead of lingering (the encoder follows with a lag).
      double base = received > 0 ? received : rate;
      double drain = std::min (std::max (queue_delay_ms_, 0.0) / 1000, kMaxDrain);
      rate = std::min (rate, (kBeta - drain) * base);
      last_decrease_us_ = now_us;
      // Where the link was congested: a running mean and normalised
      // variance, started afresh when it is congested far below (the link
      // got slower).
      if (received > 0) {
        if (capacity_avg_bps_ < 0 || received < capacity_avg_bps_ - 3 * capacity_dev ()) {
          capacity_avg_bps_ = received;
          capacity_var_ = 0;
        } else {
          capacity_avg_bps_ = 0.95 * capacity_avg_bps_ + 0.05 * received;
        }
        double err_kbps = (received - capacity_avg_bps_) / 1000;
        capacity_var_ = 0.95 * capacity_var_ +
            0.05 * err_kbps * err_kbps / std::max (capacity_avg_bps_ / 1000, 1.0);
      }
    }
    state_ = RateState::Hold;
  }
  delay_rate_ = (uint32_t) std::clamp<double> (rate, limits_.min_bps, limits_.max_bps);
  last_delay_update_us_ = now_us;
}

// --- loss ----------------------------------------------------------------------------

void
BandwidthEstimator::update_loss_rate (double loss, bool delay_known, int64_t now_us)
{
  loss_ = loss;
  double rate = loss_rate_;
  // Cuts and growth start from the estimate, so that a loss always lowers
  // the estimate from where it is; between the thresholds the loss-based rate
  // holds where it stands, even above the delay-based one, which may then
  // grow up to it: a link with steady random loss (Wi-Fi, LTE) keeps its
  // rate instead of losing a little at every delay-based dip, for good.
  // Without delay information (receiver reports only), every loss above
  // kLossHigh counts, as in GCC.
  const bool congestive = !delay_known || usage_ == Usage::Over ||
      queue_delay_ms_ > kLossQueueMs || loss > kLossSevere;
  if (loss > kLossHigh && congestive) {
    // One cut per round trip (and 300 ms): the losses that follow a cut
    // were sent before it.
    double rtt_us = std::max (rtt_ms_, 0.0) * 1000;
    if (last_loss_decrease_us_ < 0 || now_us - last_loss_decrease_us_ >= kLossDecreaseUs + rtt_us) {
      double cut = std::min (rate, (double) delay_rate_) * (1 - 0.5 * loss);
      double floor = std::min<double> (kLossAckedFloor * received_.bps, rate);
      rate = std::max (cut, floor);
      last_loss_decrease_us_ = now_us;
    }
  } else if (loss < kLossLow) {
    double dt_s = last_loss_update_us_ < 0 ? 1.0
        : std::min ((now_us - last_loss_update_us_) / 1e6, 1.0);
    rate = std::min (rate, (double) delay_rate_) * std::pow (kLossGrowth, dt_s);
  }
  last_loss_update_us_ = now_us;
  loss_rate_ = (uint32_t) std::clamp<double> (rate, limits_.min_bps, limits_.max_bps);
}

void
BandwidthEstimator::on_receiver_report (double fraction_lost, double rtt_ms, int64_t now_us)
{
  latest_us_ = now_us;
  if (has_transport_feedback (now_us)) {
    settle ();  // (a REMB may have expired)
    return;  // TWCC says more, and sooner
  }
  if (rtt_ms >= 0)
    rtt_ms_ = rtt_ms;
  // No delay information: only loss limits the estimate.
  delay_rate_ = limits_.max_bps;
  update_loss_rate (std::clamp (fraction_lost, 0.0, 1.0), false, now_us);
  settle ();
}

// --- REMB ----------------------------------------------------------------------------

bool
parse_remb (const uint8_t *fci, size_t size, uint64_t *bps)
{
  if (!fci || size < 8 || fci[0] != 'R' || fci[1] != 'E' || fci[2] != 'M' || fci[3] != 'B')
    return false;
  size_t ssrcs = fci[4];
  if (size < 8 + 4 * ssrcs)
    return false;
  unsigned exponent = fci[5] >> 2;
  uint64_t mantissa = ((uint64_t) (fci[5] & 0x3) << 16) | ((uint64_t) fci[6] << 8) | fci[7];
  // 2^18 << 63 does not fit: such a REMB means "no limit".
  *bps = exponent > 45 ? UINT64_MAX : mantissa << exponent;
  return true;
}

void
BandwidthEstimator::on_remb (uint64_t bps, int64_t now_us)
{
  remb_bps_ = (uint32_t) std::clamp<uint64_t> (bps, 1, UINT32_MAX);
  remb_at_us_ = latest_us_ = now_us;
  settle ();
}

// --- probes ------------------------------------------------------------------------

bool
BandwidthEstimator::on_probe_result (uint32_t bps, int64_t now_us)
{
  latest_us_ = now_us;
  const uint32_t before = estimate_;
  if (usage_ != Usage::Over && loss_ <= kLossHigh && bps > estimate_) {
    // Where the link was congested is not where it is now.
    if (capacity_avg_bps_ > 0 && bps > capacity_avg_bps_ + 3 * capacity_dev ())
      capacity_avg_bps_ = -1;
    const uint32_t rate = std::clamp (bps, limits_.min_bps, limits_.max_bps);
    delay_rate_ = std::max (delay_rate_, rate);
    loss_rate_ = std::max (loss_rate_, rate);
  }
  settle ();
  return estimate_ > before;
}

void
BandwidthEstimator::on_probe_sent (int64_t end_us)
{
  probe_end_us_ = end_us;
  probe_hold_until_us_ = end_us + kProbeHoldUs;
}

void
BandwidthEstimator::on_probe_full (uint32_t recv_bps, int64_t now_us)
{
  latest_us_ = now_us;
  if (recv_bps < estimate_) {
    probe_hold_until_us_ = -1;
    delay_rate_ = std::clamp (std::min (delay_rate_, recv_bps), limits_.min_bps, limits_.max_bps);
  }
  settle ();
}

void
BandwidthEstimator::settle ()
{
  if (remb_bps_ && latest_us_ > remb_at_us_ + kRembTimeoutUs)
    remb_bps_ = 0;  // the receiver stopped sending them
  uint32_t rate = std::min (delay_rate_, loss_rate_);
  if (remb_bps_)
    rate = std::min (rate, remb_bps_);
  estimate_ = std::clamp (rate, limits_.min_bps, limits_.max_bps);
}

}  // namespace rtcstream
